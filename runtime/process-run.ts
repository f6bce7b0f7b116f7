// The process engine: runs of process entries (kind: process) as keel's own
// children, forked by keel's addon (no child_process, no runc). keel is their
// shim as it is a container init's: its reaper collects the exit, it holds
// their output pipes, and when the leader exits it kills what is left of the
// process group (and the cgroup, where one is delegated), as runc's teardown
// does for a container. start() returns a running process or throws with
// nothing left behind; `done` settles once nothing of the run remains.
import { closeSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { cgroupPids, cgroupStats, oomKills, pidsLimitHits } from './cgroups.js';
import { ContainerLog } from './container-log.js';
import type { ContainerEngine, ExecResult, OutputSink, PlanRequest, ResourceStats, RunningContainer } from './engine.js';
import { openPipedStdio, runHelper } from './helper-process.js';
import type { Host } from './host.js';
import type { ExitStatus, Outcome } from './outcome.js';
import { signalPids } from './pids.js';
import { ProcessCgroup, type CgroupHome } from './process-cgroup.js';
import { planProcess, resolveCommand, type ProcessPlan } from './process-plan.js';
import { realSleep } from './stop.js';

export interface ProcessEngineDeps {
  host: Host;
  /** The environment every process starts from (keel's own, less keel's variables: see inheritedEnv). */
  baseEnv: Record<string, string>;
  /** Where each run gets a cgroup of its own; undefined where no writable cgroup v2 is delegated. */
  cgroup?: CgroupHome;
  /** The entry whose process gets keel's own stdin, stdout and stderr (a container's CMD), by id. */
  attached?: string;
  /** The oom_score_adj of a process whose entry sets none (a container's init: init/core/oom-guard.ts); else keel's own, inherited. */
  oomScoreAdj?: number;
}

/** How long a run's output may stay open after its leader exited (a process that escaped the group holds the pipe). */
const DRAIN_MS = 2000;

function kill(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left there
  }
}

/** Resident memory of one process, for stats without a cgroup. */
function residentBytes(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb !== undefined ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A process's run: nothing of it outlives its exit but its cgroup, released with it, so attempts need no ids of their own. */
class ProcessRun implements RunningContainer {
  readonly id: string;
  readonly done: Promise<Outcome>;
  readonly exited: Promise<Outcome>;

  constructor(
    readonly pid: number,
    since: number,
    private readonly plan: ProcessPlan,
    private readonly host: Host,
    private readonly log: ContainerLog,
    private readonly streams: Promise<unknown>,
    private readonly cgroup: ProcessCgroup | undefined,
  ) {
    this.id = plan.id;
    this.done = host.waitPid(pid, since).then((status) => this.cleanUp(status));
    this.exited = this.done;
  }

  /** Its clean-up is part of its exit: nothing waits for a release. */
  release(): void {}

  private async cleanUp(status: ExitStatus): Promise<Outcome> {
    // The leader is gone: what is left of its group goes too (its pgid stays reserved while any member lives).
    kill(-this.pid, 'SIGKILL');
    const path = this.cgroup?.path;
    const kills = path !== undefined ? oomKills(path) : 0;
    const refused = path !== undefined ? pidsLimitHits(path) : 0;
    await this.cgroup?.release();
    this.log.writerExited();
    const drained = await Promise.race([this.streams.then(() => true), realSleep(DRAIN_MS).then(() => false)]);
    if (!drained) this.log.detach();
    this.log.close();
    return { code: status.code, signal: status.signal, oomKills: kills, oomKilled: kills > 0 && status.signal === 'SIGKILL', timedOut: false, ...(refused ? { pidsLimitHits: refused } : {}) };
  }

  /** To the whole process group (the entry's children too); with `all`, to its cgroup as well (what left the group). */
  async signal(signal: NodeJS.Signals, all = false): Promise<void> {
    kill(-this.pid, signal);
    if (all && this.cgroup) signalPids(cgroupPids(this.cgroup.path), signal);
  }

  /** A probe: the command as the entry's user (with its groups), in its directory, with its environment. */
  exec(cmd: string[], timeoutMs: number): Promise<ExecResult> {
    const [name = '', ...args] = cmd;
    return runHelper(this.host, name, args, { timeoutMs, env: this.plan.env, cwd: this.plan.cwd, ...(this.plan.user ? { user: this.plan.user } : {}) });
  }

  stats(): ResourceStats {
    return this.cgroup ? cgroupStats(this.cgroup.path) : { memoryBytes: residentBytes(this.pid) };
  }
}

/** The run's stdio: keel's own (the attached entry), or /dev/null in and a pipe each for stdout and stderr. */
interface Stdio {
  fds: [number, number, number];
  /** Closed in keel once the child has them. */
  childEnds: number[];
  readEnds: { stdout: number; stderr: number } | undefined;
}

/** Throws (out of fds: EMFILE) with nothing left open. */
function openStdio(host: Host, attached: boolean): Stdio {
  if (attached) return { fds: [0, 1, 2], childEnds: [], readEnds: undefined };
  const piped = openPipedStdio(host);
  return { fds: piped.childEnds, childEnds: piped.childEnds, readEnds: piped.readEnds };
}

export class ProcessEngine implements ContainerEngine<ProcessPlan> {
  constructor(private readonly deps: ProcessEngineDeps) {}

  plan(request: PlanRequest): ProcessPlan {
    const plan = planProcess(request.id, request.entry, this.deps.baseEnv, request.extra);
    return plan.oomScoreAdj === undefined && this.deps.oomScoreAdj !== undefined ? { ...plan, oomScoreAdj: this.deps.oomScoreAdj } : plan;
  }

  async start(plan: ProcessPlan, output: OutputSink): Promise<RunningContainer> {
    const path = resolveCommand(plan);
    const attached = plan.id === this.deps.attached;
    const log = new ContainerLog(output.file, output.onLine);
    let cgroup: ProcessCgroup | undefined;
    let stdio: Stdio | undefined;
    let pid: number;
    const since = performance.now();
    // Whatever fails (the cgroup, out of fds, the spawn), nothing of this attempt stays open or made: a restart loop under fd pressure must not leak its way deeper.
    try {
      cgroup = this.deps.cgroup ? new ProcessCgroup(this.deps.cgroup, plan.id, plan.resources) : undefined;
      stdio = openStdio(this.deps.host, attached);
      pid = this.deps.host.spawnProcess({
        path,
        argv: plan.argv,
        env: plan.env,
        cwd: plan.cwd,
        ...(plan.user ? { user: plan.user } : {}),
        rlimits: plan.rlimits,
        noNewPrivileges: plan.noNewPrivileges,
        ...(plan.oomScoreAdj !== undefined ? { oomScoreAdj: plan.oomScoreAdj } : {}),
        stdio: stdio.fds,
        foreground: attached && isatty(0),
        ...(cgroup?.procsFd !== undefined ? { cgroupFd: cgroup.procsFd } : {}),
      });
    } catch (err) {
      for (const fd of [...(stdio?.childEnds ?? []), ...Object.values(stdio?.readEnds ?? {})]) closeSync(fd);
      cgroup?.remove();
      log.close();
      throw err;
    } finally {
      cgroup?.closeFd();
    }
    for (const fd of stdio.childEnds) closeSync(fd);
    let streams: Promise<unknown> = Promise.resolve();
    if (stdio.readEnds) {
      // libuv pipe handles: fs streams would each hold a thread-pool thread in a blocking read.
      const out = new Socket({ fd: stdio.readEnds.stdout, readable: true, writable: false });
      const err = new Socket({ fd: stdio.readEnds.stderr, readable: true, writable: false });
      streams = Promise.all([log.attach(out, 'stdout'), log.attach(err, 'stderr')]);
    }
    return new ProcessRun(pid, since, plan, this.deps.host, log, streams, cgroup);
  }
}

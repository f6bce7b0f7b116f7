// The runc engine: runs of planned containers, from bundle to clean-up.
// start() either returns a running container or throws with nothing left
// behind; a run's `exited` settles once none of its processes remain, its
// `done` once no runc state, cgroup, mount or bundle of it remains either.
// A service's attempts (StartOptions.attempt) each get an id, a bundle and a
// cgroup of their own, so the last attempt's clean-up (a `runc delete`, an
// exec of its own) can wait until the next attempt has started.
import { planContainer, writeBundle, type Bundle, type RuncPlan } from './bundle.js';
import { rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cgroupDirs, cgroupPids, cgroupStats, existingCgroupDirs, oomKills, pidsLimitHits, refuseSharedCgroup, removeCgroup, signalCgroup } from './cgroups.js';
import { ContainerLog } from './container-log.js';
import type { ContainerEngine, ExecResult, OutputSink, PlanRequest, ResourceStats, RunningContainer, StartOptions } from './engine.js';
import type { Host } from './host.js';
import { afterCreate, beforeCreate } from './host-prep.js';
import type { ExitStatus, Outcome } from './outcome.js';
import type { ContainerDriver, Created } from './runc.js';
import { realSleep, stopContainer } from './stop.js';

export interface RuncEngineDeps {
  driver: ContainerDriver;
  host: Host;
  stateDir: string;
  /** Where relative image paths are found (the manifest's directory). */
  baseDir: string;
  /** uid/gid for a container name used as an id. */
  idOf: (name: string) => number | undefined;
  /** The cgroup containers get their own under when the manifest names none (default /keel). */
  cgroupParent?: string;
  /** What keel had to do by itself because runc failed it (signals through the cgroup, state removed by hand). */
  warn?: (message: string) => void;
}

/** How long a run's output may stay open after its init exited (a child that outlived it holds the pipe). */
const DRAIN_MS = 2000;

/** How long a deferred run's leftover processes (a pid: host container's children) get to go after SIGKILL through the cgroup. */
const LEFTOVER_MS = 2000;

class RuncRun implements RunningContainer {
  readonly id: string;
  readonly pid: number;
  readonly exited: Promise<Outcome>;
  readonly done: Promise<Outcome>;
  /** The init's exit was collected: its pid may belong to another process now. */
  private reaped = false;
  private letGo!: () => void;
  private readonly released = new Promise<void>((r) => (this.letGo = r));

  constructor(
    private readonly plan: RuncPlan,
    created: Created,
    private readonly streams: Promise<unknown>,
    private readonly log: ContainerLog,
    private readonly bundle: Bundle,
    private readonly deps: RuncEngineDeps,
    /** The cgroup directories that existed before runc made the container's: never removed. */
    private readonly preexisting: ReadonlySet<string>,
    /** Clean up only at release() (a service's attempt), and after the last clean-up step, this. */
    private readonly deferred: { afterCleanUp: () => void } | undefined,
  ) {
    this.id = plan.id;
    this.pid = created.pid;
    this.exited = created.exited.then((status) => {
      this.reaped = true;
      return this.settle(status);
    });
    this.done = this.exited.then(async (outcome) => {
      await this.released;
      await this.cleanUp();
      return outcome;
    });
    if (!deferred) this.release();
  }

  release(): void {
    this.letGo();
  }

  private get cgroupsPath(): string {
    return this.plan.spec.linux.cgroupsPath;
  }

  /** The outcome: what the cgroup saw, the output drained; for a deferred run, no process of it left either. */
  private async settle(status: ExitStatus): Promise<Outcome> {
    const kills = oomKills(this.cgroupsPath);
    const refused = pidsLimitHits(this.cgroupsPath);
    // The pipes close when the last process holding them exits; one that outlives the init is cut off.
    this.log.writerExited();
    const drained = await Promise.race([this.streams.then(() => true), realSleep(DRAIN_MS).then(() => false)]);
    if (!drained) this.log.detach();
    this.log.close();
    // What runc delete --force would kill (children of a pid: host container) must not outlive the run into the next attempt.
    if (this.deferred && cgroupPids(this.cgroupsPath).length > 0) {
      signalCgroup(this.cgroupsPath, 'SIGKILL');
      for (const end = performance.now() + LEFTOVER_MS; cgroupPids(this.cgroupsPath).length > 0 && performance.now() < end; ) await realSleep(20);
    }
    // The init itself was the OOM killer's victim when it died of SIGKILL in a cgroup that saw kills.
    return { code: status.code, signal: status.signal, oomKills: kills, oomKilled: kills > 0 && status.signal === 'SIGKILL', timedOut: false, ...(refused ? { pidsLimitHits: refused } : {}) };
  }

  /**
   * Each step is tried whatever the one before did, and a failed one is said:
   * the run's end (`done`) must come either way, or an onboot phase waiting on
   * it would fail as a whole and lose the entry's outcome.
   */
  private async cleanUp(): Promise<void> {
    const step = async (what: string, f: () => unknown): Promise<void> => {
      try {
        await f();
      } catch (err) {
        this.deps.warn?.(`${what} of ${this.plan.id} failed: ${(err as Error).message}`);
      }
    };
    await step('removing the runc state', () => this.deleteState());
    await step('removing the cgroup', () => removeCgroup(this.cgroupsPath, this.preexisting));
    await step('removing the bundle', () => this.bundle.release());
    this.deferred?.afterCleanUp();
  }

  /**
   * The container's runc state goes. Once none of its processes is left, that
   * is a directory to remove (driver.removeState), not a runc to start; while
   * one is (a stuck exit), runc delete --force kills it, and when runc cannot,
   * the state goes by hand once nothing runs.
   */
  private async deleteState(): Promise<void> {
    if (cgroupPids(this.cgroupsPath).length === 0) {
      try {
        return this.deps.driver.removeState(this.plan.id);
      } catch {
        /* runc delete tries */
      }
    }
    try {
      await this.deps.driver.delete(this.plan.id, true);
    } catch (err) {
      if (cgroupPids(this.cgroupsPath).length > 0) return;
      this.deps.driver.removeState(this.plan.id);
      this.deps.warn?.(`runc delete ${this.plan.id} failed (${(err as Error).message}); keel removed its runc state itself`);
    }
  }

  /** Through runc; when runc cannot (missing, hung, broken), keel signals the processes itself, through the cgroup. */
  async signal(signal: NodeJS.Signals, all = false): Promise<void> {
    try {
      const known = await this.deps.driver.kill(this.plan.id, signal, all);
      // runc lost the container (its state directory removed) while keel has not reaped its init: keel's own way, then.
      if (known === 'unknown' && !this.reaped) throw new Error('runc does not know the container: its state directory is gone');
    } catch (err) {
      let n = 0;
      if (all) n = signalCgroup(this.cgroupsPath, signal);
      else if (!this.reaped) {
        try {
          process.kill(this.pid, signal);
          n = 1;
        } catch {
          /* already gone */
        }
      }
      this.deps.warn?.(`runc could not signal ${this.plan.id} (${(err as Error).message}); keel sent ${signal} to ${n} process(es) itself`);
    }
  }

  exec(cmd: string[], timeoutMs: number): Promise<ExecResult> {
    return this.deps.driver.exec(this.plan.id, cmd, timeoutMs);
  }

  stats(): ResourceStats {
    return cgroupStats(this.cgroupsPath);
  }
}

/** A service's cgroup, which its attempts' cgroups are made below: removed when keel made it and no attempt is left. */
interface ServiceCgroup {
  preexisting: ReadonlySet<string>;
  live: number;
}

/** The run of `plan` for `attempt`: an id, bundle directory, writable layer and cgroup of its own; the plan itself without one. */
export function attemptPlan(plan: RuncPlan, attempt: number | undefined): RuncPlan {
  if (attempt === undefined) return plan;
  const id = `${plan.id}+${attempt}`;
  const dir = join(dirname(plan.dir), id);
  const root = plan.spec.root.readonly ? plan.spec.root : { ...plan.spec.root, path: join(dir, 'rootfs') };
  const layer = plan.layer && { ...plan.layer, dir: join(dirname(plan.layer.dir), id) };
  return { ...plan, id, dir, layer, spec: { ...plan.spec, root, linux: { ...plan.spec.linux, cgroupsPath: `${plan.spec.linux.cgroupsPath.replace(/\/+$/, '')}/${id}` } } };
}

export class RuncEngine implements ContainerEngine<RuncPlan> {
  private readonly serviceCgroups = new Map<string, ServiceCgroup>();

  constructor(private readonly deps: RuncEngineDeps) {}

  plan(request: PlanRequest): RuncPlan {
    const plan = planContainer({ ...request, baseDir: this.deps.baseDir, stateDir: this.deps.stateDir, idOf: this.deps.idOf, ...(this.deps.cgroupParent ? { cgroupParent: this.deps.cgroupParent } : {}) });
    // The manifest refuses writableSize beside its own readonly: true; an image label can make the root read-only too.
    if (request.entry.writableSize !== undefined && !plan.layer) this.deps.warn?.(`${plan.id}: writableSize is not used: its image's label makes its root read-only, so it has no writable layer`);
    return plan;
  }

  /** Counts an attempt in its service's cgroup; the returned function uncounts it and removes that cgroup when it is keel's and empty. */
  private holdServiceCgroup(plan: RuncPlan): () => void {
    const base = plan.spec.linux.cgroupsPath;
    let held = this.serviceCgroups.get(plan.id);
    if (!held) this.serviceCgroups.set(plan.id, (held = { preexisting: existingCgroupDirs(base), live: 0 }));
    held.live++;
    const cg = held;
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      if (--cg.live > 0) return;
      // Synchronous, so no attempt can start between the count and the rmdir.
      for (const dir of cgroupDirs(base)) {
        if (cg.preexisting.has(dir)) continue;
        try {
          rmdirSync(dir);
        } catch {
          /* absent, or in use by a cgroup keel did not make */
        }
      }
    };
  }

  async start(base: RuncPlan, output: OutputSink, opts: StartOptions = {}): Promise<RunningContainer> {
    const plan = attemptPlan(base, opts.attempt);
    const unhold = opts.attempt === undefined ? undefined : this.holdServiceCgroup(base);
    try {
      return await this.startRun(plan, output, unhold && { afterCleanUp: unhold });
    } catch (err) {
      unhold?.();
      throw err;
    }
  }

  private async startRun(plan: RuncPlan, output: OutputSink, deferred: { afterCleanUp: () => void } | undefined): Promise<RunningContainer> {
    const { driver, host, stateDir } = this.deps;
    const log = new ContainerLog(output.file, output.onLine);
    let bundle: Bundle | undefined;
    try {
      bundle = writeBundle(plan, stateDir, host);
      beforeCreate(plan.runtime, host, plan.spec.root.path);
    } catch (err) {
      bundle?.release();
      log.close();
      throw err;
    }
    // Interfaces and namespace binds need the container created but not started; without them one runc call does both.
    const between = plan.runtime.interfaces.length > 0 || Object.values(plan.runtime.bindNS).some(Boolean);
    let streams: Promise<unknown> = Promise.resolve();
    let created: Created;
    const preexisting = existingCgroupDirs(plan.spec.linux.cgroupsPath);
    try {
      refuseSharedCgroup(plan.spec.linux.cgroupsPath, preexisting);
      created = await driver.create(plan.id, bundle.dir, (stdout, stderr) => (streams = Promise.all([log.attach(stdout, 'stdout'), log.attach(stderr, 'stderr')])), !between);
    } catch (err) {
      // runc has deleted what it created; the bundle is ours to undo.
      bundle.release();
      log.close();
      throw err;
    }
    const run = new RuncRun(plan, created, streams, log, bundle, this.deps, preexisting, deferred);
    if (between) {
      try {
        await afterCreate(plan.runtime, created.pid, host);
        await driver.start(plan.id);
      } catch (err) {
        // Created but never started: kill it and let its clean-up run before reporting the failure.
        const gone = await stopContainer(run, 'SIGKILL', 0, { all: true });
        run.release();
        if (gone) await run.done;
        throw err;
      }
    }
    return run;
  }
}

// The runc engine: runs of planned containers, from bundle to clean-up.
// start() either returns a running container or throws with nothing left
// behind; a run's `done` settles only once no process, runc state, cgroup,
// mount or bundle of it remains.
import { planContainer, writeBundle, type Bundle, type RuncPlan } from './bundle.js';
import { cgroupStats, oomKills, removeCgroup } from './cgroups.js';
import { ContainerLog } from './container-log.js';
import type { ContainerEngine, ExecResult, OutputSink, PlanRequest, ResourceStats, RunningContainer } from './engine.js';
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
}

/** How long a run's output may stay open after its init exited (a child that outlived it holds the pipe). */
const DRAIN_MS = 2000;
/** How long a half-started container gets to die after SIGKILL before keel gives up waiting for it. */
const ABORT_MS = 5000;

class RuncRun implements RunningContainer {
  readonly pid: number;
  readonly done: Promise<Outcome>;

  constructor(
    private readonly plan: RuncPlan,
    created: Created,
    private readonly streams: Promise<unknown>,
    private readonly log: ContainerLog,
    private readonly bundle: Bundle,
    private readonly deps: RuncEngineDeps,
  ) {
    this.pid = created.pid;
    this.done = created.exited.then((status) => this.cleanUp(status));
  }

  private get cgroupsPath(): string {
    return this.plan.spec.linux.cgroupsPath;
  }

  private async cleanUp(status: ExitStatus): Promise<Outcome> {
    const kills = oomKills(this.cgroupsPath);
    // The pipes close when the last process holding them exits; one that outlives the init is cut off.
    const drained = await Promise.race([this.streams.then(() => true), realSleep(DRAIN_MS).then(() => false)]);
    if (!drained) this.log.detach();
    this.log.close();
    await this.deps.driver.delete(this.plan.id, true).catch(() => undefined);
    removeCgroup(this.cgroupsPath);
    this.bundle.release();
    // The init itself was the OOM killer's victim when it died of SIGKILL in a cgroup that saw kills.
    return { code: status.code, signal: status.signal, oomKills: kills, oomKilled: kills > 0 && status.signal === 'SIGKILL', timedOut: false };
  }

  signal(signal: NodeJS.Signals, all = false): Promise<void> {
    return this.deps.driver.kill(this.plan.id, signal, all);
  }

  exec(cmd: string[], timeoutMs: number): Promise<ExecResult> {
    return this.deps.driver.exec(this.plan.id, cmd, timeoutMs);
  }

  stats(): ResourceStats {
    return cgroupStats(this.cgroupsPath);
  }
}

export class RuncEngine implements ContainerEngine<RuncPlan> {
  constructor(private readonly deps: RuncEngineDeps) {}

  plan(request: PlanRequest): RuncPlan {
    return planContainer({ ...request, baseDir: this.deps.baseDir, stateDir: this.deps.stateDir, idOf: this.deps.idOf });
  }

  async start(plan: RuncPlan, output: OutputSink): Promise<RunningContainer> {
    const { driver, host, stateDir } = this.deps;
    const log = new ContainerLog(output.file, output.onLine);
    let bundle: Bundle | undefined;
    try {
      bundle = writeBundle(plan, stateDir, host);
      beforeCreate(plan.runtime, host);
    } catch (err) {
      bundle?.release();
      log.close();
      throw err;
    }
    // Interfaces and namespace binds need the container created but not started; without them one runc call does both.
    const between = plan.runtime.interfaces.length > 0 || Object.values(plan.runtime.bindNS).some(Boolean);
    let streams: Promise<unknown> = Promise.resolve();
    let created: Created;
    try {
      created = await driver.create(plan.id, bundle.dir, (stdout, stderr) => (streams = Promise.all([log.attach(stdout, 'stdout'), log.attach(stderr, 'stderr')])), !between);
    } catch (err) {
      // runc has deleted what it created; the bundle is ours to undo.
      bundle.release();
      log.close();
      throw err;
    }
    const run = new RuncRun(plan, created, streams, log, bundle, this.deps);
    if (between) {
      try {
        await afterCreate(plan.runtime, created.pid, host);
        await driver.start(plan.id);
      } catch (err) {
        // Created but never started: kill it and let its clean-up run before reporting the failure.
        await stopContainer(run, 'SIGKILL', 0, { all: true });
        await Promise.race([run.done, realSleep(ABORT_MS)]);
        throw err;
      }
    }
    return run;
  }
}

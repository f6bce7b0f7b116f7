// One run of one container, from bundle to cleanup: what onboot/onshutdown
// entries and supervised services share. start() throws on failure;
// cleanup() always leaves nothing behind (no process, runc state, cgroup or
// mount) and may be called whatever happened before.
import { containerId, prepareBundle, type Bundle, type Phase } from './bundle.js';
import { oomKills, removeCgroup } from './cgroups.js';
import type { ContainerLog } from './container-log.js';
import type { ExitStatus, Host } from './host.js';
import { afterCreate, beforeCreate } from './host-prep.js';
import type { ContainerDriver } from './runc.js';
import type { ExtraConfig } from './oci-spec.js';
import type { ContainerBase } from '../model/index.js';

export interface RunDeps {
  driver: ContainerDriver;
  host: Host;
  stateDir: string;
  baseDir: string;
  idOf: (name: string) => number | undefined;
}

/** What the cgroup says about the OOM killer, read before the cgroup is removed. */
export interface OomReport {
  /** Processes of the container the OOM killer killed (the init or others). */
  oomKills: number;
  /** The container's init was one of them. */
  oomKilled: boolean;
}

export const sleep = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref?.());

export class ContainerRun {
  readonly id: string;
  pid: number | undefined;
  exited: Promise<ExitStatus> | undefined;
  bundle: Bundle | undefined;
  status: ExitStatus | undefined;
  private streams: Promise<void[]> | undefined;
  private cleaned: Promise<OomReport> | undefined;

  constructor(
    readonly phase: Phase,
    readonly entry: ContainerBase,
    private readonly deps: RunDeps,
    private readonly log: ContainerLog,
    private readonly extra?: ExtraConfig,
  ) {
    this.id = containerId(phase, entry.name);
  }

  get cgroupsPath(): string | undefined {
    return this.bundle?.spec.linux.cgroupsPath;
  }

  async start(): Promise<void> {
    const { deps, entry } = this;
    this.bundle = prepareBundle({ entry, phase: this.phase, baseDir: deps.baseDir, stateDir: deps.stateDir, host: deps.host, idOf: deps.idOf, ...(this.extra ? { extra: this.extra } : {}) });
    beforeCreate(this.bundle.runtime, deps.host);
    // Interfaces and namespace binds need the container created but not started; without them one runc call does both.
    const between = this.bundle.runtime.interfaces.length > 0 || Object.values(this.bundle.runtime.bindNS).some(Boolean);
    const created = await deps.driver.create(
      this.id,
      this.bundle.dir,
      (stdout, stderr) => (this.streams = Promise.all([this.log.attach(stdout, 'stdout'), this.log.attach(stderr, 'stderr')])),
      !between,
    );
    this.pid = created.pid;
    this.exited = created.exited.then((s) => (this.status = s));
    if (between) {
      await afterCreate(this.bundle.runtime, created.pid, deps.host);
      await deps.driver.start(this.id);
    }
  }

  /** Signals the container's init, or with `all` every process in its cgroup. */
  kill(signal: NodeJS.Signals, all = false): Promise<void> {
    return this.deps.driver.kill(this.id, signal, all);
  }

  cleanup(): Promise<OomReport> {
    this.cleaned ??= this.doCleanup();
    return this.cleaned;
  }

  private async doCleanup(): Promise<OomReport> {
    if (this.exited && !this.status) {
      // Started (at least half-way) and still running: make sure the init is gone and reaped first.
      await this.kill('SIGKILL', true).catch(() => undefined);
      await Promise.race([this.exited, sleep(5000)]);
    }
    const kills = this.cgroupsPath ? oomKills(this.cgroupsPath) : 0;
    // The pipes close when the last process holding them exits; one that outlives the init is cut off.
    if (this.streams && (await Promise.race([this.streams, sleep(2000)])) === 'timeout') this.log.detach();
    await this.deps.driver.delete(this.id, true).catch(() => undefined);
    if (this.cgroupsPath) removeCgroup(this.cgroupsPath);
    this.bundle?.release();
    // The init itself was the OOM killer's victim when it died of SIGKILL in a cgroup that saw kills.
    return { oomKills: kills, oomKilled: kills > 0 && this.status?.signal === 'SIGKILL' };
  }
}

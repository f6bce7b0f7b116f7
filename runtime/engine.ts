// What supervision sees of the container runtime: plan a container once,
// start runs of it, signal them, exec into them, read their resource use.
// Services and phases depend on this interface only, never on runc or
// cgroup files; the tests drive them through an in-memory engine.
import type { ContainerBase } from '../model/index.js';
import type { ExtraConfig } from './oci-spec.js';
import type { Outcome } from './outcome.js';

export type StreamName = 'stdout' | 'stderr';
/** A line of a container's output; `continued` marks a piece that carries on a line cut at its length limit. */
export type LineListener = (stream: StreamName, line: string, continued: boolean) => void;

/** A container whose spec is built: what every run of it starts from. */
export interface ContainerPlan {
  readonly id: string;
  readonly name: string;
}

export interface PlanRequest {
  /** The container id: unique among the containers keel runs. */
  id: string;
  entry: ContainerBase;
  /** What keel itself adds (a notify socket and its env). */
  extra?: ExtraConfig;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ResourceStats {
  memoryBytes?: number;
  memoryPeakBytes?: number;
  cpuUsageUsec?: number;
  cpuThrottledPeriods?: number;
  cpuThrottledUsec?: number;
  pids?: number;
  /** Forks refused at the pids limit, since the container started. */
  pidsLimitHits?: number;
  /** Pressure stall information (cgroup v2 with PSI): avg10 of "some", per resource. */
  pressure?: Record<string, number>;
}

export interface OutputSink {
  onLine: LineListener;
  /** Also append each line, timestamped, to this file. */
  file?: string;
}

export interface StartOptions {
  /**
   * A service's attempt number. Its run gets an id, a bundle and a cgroup of
   * its own (ID+N, below the plan's cgroup), and what it leaves behind is
   * cleaned up only once release() is called: a restart need not wait for
   * the last attempt's `runc delete`.
   */
  attempt?: number;
}

/** One run of a container, from the moment its init exists. */
export interface RunningContainer {
  /** The runtime's id of this run (runc's, for exec). */
  readonly id: string;
  readonly pid: number;
  /** The outcome, once the container's processes are gone (what it held may still be being cleaned up). */
  readonly exited: Promise<Outcome>;
  /** The outcome, once the container is gone and all it held (runc state, cgroup, mounts) is released. */
  readonly done: Promise<Outcome>;
  /** Lets the clean-up of a run started with an attempt number begin (others clean up at once). Safe to call twice. */
  release(): void;
  /** Signals the init, or with `all` every process in the container. */
  signal(signal: NodeJS.Signals, all?: boolean): Promise<void>;
  exec(cmd: string[], timeoutMs: number): Promise<ExecResult>;
  stats(): ResourceStats;
}

/** An engine makes its own kind of plan and starts only those (P stays opaque to its users). */
export interface ContainerEngine<P extends ContainerPlan = ContainerPlan> {
  /** Builds the container's spec (image, label, manifest merged); throws an Error that says what is wrong. */
  plan(request: PlanRequest): P;
  /** Starts a run; resolves once it runs. Throws when it could not start, with nothing left behind. */
  start(plan: P, output: OutputSink, opts?: StartOptions): Promise<RunningContainer>;
}

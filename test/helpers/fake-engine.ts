// An in-memory container engine for the supervisor's unit tests: a mock, for
// the supervisor's logic only (real runc runs in test/services.test.ts). Each
// run is a FakeRun the test ends, signals and inspects by hand.
import type { ContainerEngine, ContainerPlan, ExecResult, OutputSink, PlanRequest, ResourceStats, RunningContainer } from '../../runtime/engine.js';
import type { Outcome } from '../../runtime/outcome.js';

export const exited = (code: number, extra: Partial<Outcome> = {}): Outcome => ({ code, signal: null, oomKilled: false, oomKills: 0, timedOut: false, ...extra });
export const killed = (signal: NodeJS.Signals, extra: Partial<Outcome> = {}): Outcome => ({ code: null, signal, oomKilled: false, oomKills: 0, timedOut: false, ...extra });

export class FakeRun implements RunningContainer {
  /** A fake run holds nothing to clean up: it is done when it has exited. */
  readonly exited: Promise<Outcome>;
  readonly done: Promise<Outcome>;
  /** release() was called (a service lets its last attempt's clean-up go). */
  released = false;
  readonly signals: Array<{ signal: NodeJS.Signals; all: boolean }> = [];
  readonly execs: string[][] = [];
  ended: Outcome | undefined;
  private finish!: (o: Outcome) => void;
  /** Signals this run ignores (a process that traps SIGTERM and carries on). */
  ignore = new Set<NodeJS.Signals>();
  /** What a probe's exec gives. */
  execResult: ExecResult = { code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
  /** What stats() reports besides pids. */
  extraStats: ResourceStats = {};

  constructor(
    readonly id: string,
    readonly pid: number,
    private readonly output: OutputSink,
  ) {
    this.exited = new Promise((r) => (this.finish = r));
    this.done = this.exited;
  }

  release(): void {
    this.released = true;
  }

  exit(outcome: Outcome): void {
    if (this.ended) return;
    this.ended = outcome;
    this.finish(outcome);
  }

  write(line: string): void {
    this.output.onLine('stdout', line, false);
  }

  async signal(signal: NodeJS.Signals, all = false): Promise<void> {
    this.signals.push({ signal, all });
    if (!this.ended && !this.ignore.has(signal)) this.exit(killed(signal));
  }

  async exec(cmd: string[]): Promise<ExecResult> {
    this.execs.push(cmd);
    return this.execResult;
  }

  stats(): ResourceStats {
    return { pids: this.ended ? 0 : 1, ...this.extraStats };
  }
}

export class FakeEngine implements ContainerEngine {
  readonly plans: PlanRequest[] = [];
  readonly runs: FakeRun[] = [];
  /** Container ids whose plan throws this message. */
  readonly planErrors = new Map<string, string>();
  /** Container ids whose next starts throw this message. */
  readonly startErrors = new Map<string, string>();
  /** Called for each new run (e.g. to end it at once). */
  onStart: (run: FakeRun) => void = () => {};
  private nextPid = 100;

  plan(request: PlanRequest): ContainerPlan {
    const problem = this.planErrors.get(request.id);
    if (problem) throw new Error(problem);
    this.plans.push(request);
    return { id: request.id, name: request.entry.name };
  }

  async start(plan: ContainerPlan, output: OutputSink): Promise<RunningContainer> {
    const problem = this.startErrors.get(plan.id);
    if (problem) throw new Error(problem);
    const run = new FakeRun(plan.id, this.nextPid++, output);
    this.runs.push(run);
    this.onStart(run);
    return run;
  }

  /** Runs of one container, oldest first. */
  of(id: string): FakeRun[] {
    return this.runs.filter((r) => r.id === id);
  }

  /** The newest run of a container. */
  last(id: string): FakeRun {
    const r = this.of(id).at(-1);
    if (!r) throw new Error(`${id} never started`);
    return r;
  }
}

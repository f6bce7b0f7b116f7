// One supervised service: a state machine (states.ts) around repeated runs of
// its container, with the restart policy (policy.ts) deciding what follows
// each exit. Every transition is one event; every exit is recorded with how
// it ended, its run time and the last lines of its log.
import { join } from 'node:path';
import { formatRestart, type ServiceEntry } from '../model/index.js';
import { statePaths } from '../model/layout.js';
import { clip, MAX_FIELD_TEXT, type KeelEventInput } from '../events/bus.js';
import type { ContainerEngine, ContainerPlan, ResourceStats, RunningContainer, StreamName } from '../runtime/engine.js';
import type { ExtraConfig } from '../runtime/oci-spec.js';
import { describeOutcome, startFailure, type Outcome } from '../runtime/outcome.js';
import { KILL_WAIT_MS, stopContainer } from '../runtime/stop.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { LogRing, RotatingFile } from './log-ring.js';
import { NOTIFY_PATH_IN_CONTAINER, type NotifyHub, type NotifySocket } from './notify.js';
import { afterExit, FRESH_HISTORY, startRefusal, type Decision, type RestartHistory } from './policy.js';
import { StartWindow } from './start-window.js';
import { Probe } from './probe.js';
import type { ExitRecord, Health, ServiceSummary } from './report.js';
import { AT_REST, checkTransition, HAS_CONTAINER, type ServiceState } from './states.js';

export interface ServiceDeps {
  engine: ContainerEngine;
  emit: (e: KeelEventInput) => void;
  /** Where a service's log file goes (STATE_DIR/logs/NAME.log), when it asks for one. */
  stateDir: string;
  /** Provides sd_notify sockets; without it, notify: true services cannot start. */
  notifyHub?: NotifyHub;
  clock?: Clock;
  /** For the backoff's jitter. */
  random?: () => number;
  /** Each line a service writes, besides its log ring (a container's init relays them to its own stdout). */
  onLine?: (service: string, stream: StreamName, line: string) => void;
}

const KEEP_EXITS = 20;
/** A restart due within this long lets the last attempt's clean-up wait until it has started; a later one does not keep it waiting. */
const RELEASE_AFTER_NEXT_MS = 1000;
/** How often a running service with a pids limit is checked for forks refused at it. */
export const PIDS_CHECK_MS = 2000;

export class Service {
  private current: ServiceState = 'waiting';
  reason = '';
  attempt = 0;
  private history: RestartHistory = FRESH_HISTORY;
  /** The recent starts, for the start limit. */
  private readonly starts = new StartWindow();
  /** Wall time, for what is shown. */
  startedAt: number | undefined;
  /** When the running attempt began to run, in monotonic time: its run time and time to ready are measured from it. */
  private runningSince: number | undefined;
  readyAt: number | undefined;
  nextRetryAt: number | undefined;
  health: Health = 'unknown';
  /** The last STATUS= the service sent over sd_notify. */
  status: string | undefined;
  readonly exits: ExitRecord[] = [];
  readonly logs: LogRing;
  private run: RunningContainer | undefined;
  /** The last attempt, whose clean-up waits for the next attempt's start (or for no restart coming soon). */
  private previous: RunningContainer | undefined;
  /** Clean-ups under way, which a stop waits for. */
  private readonly cleaning = new Set<Promise<unknown>>();
  private plan: ContainerPlan | undefined;
  private probe: Probe | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelWatchdog: (() => void) | undefined;
  private stopSignalGiven: NodeJS.Signals | undefined;
  /** Set by keel stop or shutdown: the exit that follows is not restarted. */
  private stopRequested = false;
  /** The current attempt, from its start to what follows its exit. */
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(s: Service) => void>();
  private notifySocket: NotifySocket | undefined;
  /** Forks the current run had refused at its pids limit, as last reported. */
  private pidsLimitHits = 0;
  private cancelPidsCheck: (() => void) | undefined;
  /** The attempt a stop gave up waiting for: its late exit is recorded, and changes nothing. */
  private abandoned: number | undefined;
  /** READY=1 arrived while this attempt was still starting. */
  private readyEarly = false;
  private readonly clock: Clock;

  constructor(
    readonly entry: ServiceEntry,
    private readonly deps: ServiceDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    const file = entry.logs.file ? new RotatingFile(join(statePaths(deps.stateDir).logs, `${entry.name}.log`), entry.logs.maxFileSize, entry.logs.keepFiles, true) : undefined;
    this.logs = new LogRing(entry.logs.lines, entry.logs.bytes, file);
  }

  get name(): string {
    return this.entry.name;
  }

  get state(): ServiceState {
    return this.current;
  }

  get restarts(): number {
    return this.history.restarts;
  }

  get pid(): number | undefined {
    return HAS_CONTAINER.includes(this.current) ? this.run?.pid : undefined;
  }

  /** The runtime's id of the running container (for exec), or undefined when none runs. */
  get containerId(): string | undefined {
    return HAS_CONTAINER.includes(this.current) ? this.run?.id : undefined;
  }

  /** Resource use of the running container, or undefined when none runs. */
  stats(): ResourceStats | undefined {
    return this.pid !== undefined ? this.run?.stats() : undefined;
  }

  /** Called on every transition (the supervisor uses it to release dependents). */
  onChange(listener: (s: Service) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private transition(to: ServiceState, reason = '', fields: Record<string, unknown> = {}, message?: string): void {
    const from = this.current;
    checkTransition(this.name, from, to);
    this.current = to;
    this.reason = reason;
    const quiet = to === 'starting' || (to === 'running' && Boolean(this.entry.ready));
    this.deps.emit({
      kind: 'service.state',
      level: to === 'failed' ? 'error' : quiet ? 'debug' : 'info',
      message: message ?? `service ${this.name} ${to}${reason ? `: ${reason}` : ''}`,
      service: this.name,
      from,
      to,
      reason,
      attempt: this.attempt,
      ...fields,
    });
    for (const l of this.listeners) l(this);
  }

  /** While it waits for its dependencies: says what for (an event when that changes). */
  waitingFor(reason: string, blocked: boolean): void {
    if (this.current !== 'waiting' || this.reason === reason) return;
    this.reason = reason;
    this.deps.emit({ kind: 'service.waiting', level: blocked ? 'warn' : 'debug', message: `service ${this.name} ${reason}`, service: this.name });
  }

  /** Starts the service from rest. Resolves once its container is started or has failed to start. */
  start(): Promise<void> {
    if (!AT_REST.includes(this.current)) return Promise.resolve();
    this.clearRetry();
    this.stopRequested = false;
    // The start limit holds back the restarts keel makes by itself. A start asked for (keel start, restart,
    // reset, or the first) is a fresh chance at it, from any resting state: refusing a person's start
    // would leave a backoff without its retry, or a stopped service that no longer starts.
    this.starts.clear();
    return new Promise((resolve) => {
      this.loop = this.attemptRun(resolve);
    });
  }

  private clearRetry(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.nextRetryAt = undefined;
    this.releasePrevious();
  }

  /** One attempt: admit it, start it, wait for its exit, then let the policy decide. */
  private async attemptRun(started: () => void): Promise<void> {
    const now = this.clock.now();
    const since = this.clock.monotonic();
    const { burst, interval } = this.entry.startLimit;
    const refused = startRefusal(this.entry.startLimit, this.starts, since);
    if (refused !== undefined) {
      this.releasePrevious();
      started();
      this.transition('failed', `${refused}; ${this.tryAgainHint()}`);
      return;
    }
    this.starts.record(since, burst, interval);
    this.attempt++;
    this.readyEarly = false;
    this.transition('starting');
    const attempt = this.attempt;
    let plan: ContainerPlan;
    try {
      plan = this.planOnce();
    } catch (err) {
      // A configuration the runtime refuses will not get better by retrying.
      this.releasePrevious();
      started();
      this.recordExit(attempt, now, startFailure((err as Error).message), 0);
      this.transition('failed', (err as Error).message);
      return;
    }
    let run: RunningContainer;
    try {
      const onLine = (stream: StreamName, line: string, continued?: boolean) => {
        this.logs.push({ time: this.clock.now(), stream, attempt, line, ...(continued ? { continued } : {}) });
        this.deps.onLine?.(this.name, stream, line);
      };
      run = await this.deps.engine.start(plan, { onLine }, { attempt });
    } catch (err) {
      this.releasePrevious();
      started();
      this.finish(attempt, now, startFailure((err as Error).message), 0);
      return;
    }
    // This attempt runs: what the last one left (its runc state, cgroup, bundle) goes now, off the restart's path.
    this.releasePrevious();
    this.running(run);
    started();
    const outcome = await run.exited;
    const runMs = this.clock.monotonic() - (this.runningSince ?? since);
    if (this.run === run) this.endOfRun();
    // Normally nothing waits here; after a late exit (an attempt a stop gave up on) a newer attempt may: let it go first.
    this.releasePrevious();
    this.previous = run;
    this.finish(attempt, now, outcome, runMs);
  }

  /** Lets the last attempt's clean-up go; a stop waits for it. */
  private releasePrevious(): void {
    const run = this.previous;
    if (!run) return;
    this.previous = undefined;
    run.release();
    const cleaning = run.done.then(() => undefined, () => undefined);
    this.cleaning.add(cleaning);
    void cleaning.then(() => this.cleaning.delete(cleaning));
  }

  /** What belongs to the running container goes with it: the probe, the watchdog. */
  private endOfRun(): void {
    this.probe?.stop();
    this.probe = undefined;
    this.disarmWatchdog();
    this.cancelPidsCheck?.();
    this.cancelPidsCheck = undefined;
    this.run = undefined;
  }

  /** A fork refused at the pids limit is reported when it happens (as an OOM kill is), not only at the exit. */
  private watchPidsLimit(run: RunningContainer): void {
    const limit = this.entry.resources?.pids?.limit;
    if (limit === undefined || limit < 0) return;
    this.pidsLimitHits = 0;
    const check = () => {
      const hits = run.stats().pidsLimitHits ?? 0;
      if (hits > this.pidsLimitHits) {
        this.deps.emit({ kind: 'service.pids', level: 'warn', message: `service ${this.name} is at its pids limit (${limit}): ${hits} fork(s) refused so far`, service: this.name, limit, refused: hits });
        this.pidsLimitHits = hits;
      }
      this.cancelPidsCheck = this.clock.after(PIDS_CHECK_MS, check);
    };
    this.cancelPidsCheck = this.clock.after(PIDS_CHECK_MS, check);
  }

  /** The container's spec is built on the first start and reused by every restart. */
  private planOnce(): ContainerPlan {
    this.plan ??= this.deps.engine.plan({ id: this.name, entry: this.entry, ...this.notifyExtra() });
    return this.plan;
  }

  private running(run: RunningContainer): void {
    this.run = run;
    this.startedAt = this.clock.now();
    this.runningSince = this.clock.monotonic();
    this.transition('running', '', { pid: run.pid }, `service ${this.name} running (pid ${run.pid})`);
    this.armWatchdog();
    this.watchPidsLimit(run);
    if (this.entry.notify) {
      // Ready when the service says READY=1 (see onNotify), which may already have come.
      if (this.readyEarly) this.markReady('READY=1');
    } else if (this.entry.ready) {
      this.probe = new Probe(this.entry.ready, (cmd, timeout) => run.exec(cmd, timeout), {
        ready: () => {
          if (this.current !== 'running') return;
          this.health = 'healthy';
          this.markReady();
        },
        health: (healthy, detail) => this.onHealth(healthy, detail),
        // Shown by keel ps and inspect while it is running and not yet ready; no event for each check.
        notReady: (detail) => {
          if (this.current === 'running') this.reason = `not ready yet: ${detail}`;
        },
      }, this.clock);
      this.probe.start();
    } else {
      this.readyAt = this.clock.now();
      this.transition('ready');
    }
  }

  private markReady(how?: string): void {
    if (this.current !== 'running') return;
    this.readyAt = this.clock.now();
    const after = this.runningSince === undefined ? 0 : this.clock.monotonic() - this.runningSince;
    this.transition('ready', '', {}, `service ${this.name} ready${how ? ` (${how})` : ''} after ${after} ms${how && this.status ? `: ${this.status}` : ''}`);
  }

  private recordExit(attempt: number, startedAt: number, outcome: Outcome, runMs: number): ExitRecord {
    const record: ExitRecord = { attempt, ...outcome, startedAt, exitedAt: this.clock.now(), runMs, logTail: this.logs.read({ attempt, tail: 10 }).map((l) => clip(l.line, MAX_FIELD_TEXT)) };
    this.exits.push(record);
    if (this.exits.length > KEEP_EXITS) this.exits.shift();
    return record;
  }

  /** Records the exit and applies what the policy decides. */
  private finish(attempt: number, startedAt: number, outcome: Outcome, runMs: number): void {
    const e = this.recordExit(attempt, startedAt, outcome, runMs);
    if (attempt === this.abandoned) {
      this.releasePrevious();
      this.deps.emit({ kind: 'service.exited-late', message: `service ${this.name} ${describeOutcome(e)} after ${runMs} ms, after keel had given up waiting for it`, service: this.name });
      return;
    }
    this.startedAt = undefined;
    this.runningSince = undefined;
    this.readyAt = undefined;
    this.health = 'unknown';
    const { decision, history } = afterExit(
      { restart: this.entry.restart, backoff: this.entry.backoff, startLimit: this.entry.startLimit },
      { outcome, runMs, stopRequested: this.stopRequested },
      this.history,
      this.starts,
      this.clock.monotonic(),
      this.deps.random,
    );
    this.history = history;
    this.apply(decision, e);
  }

  private apply(d: Decision, e: ExitRecord): void {
    if (!(d.next === 'backoff' && d.delayMs <= RELEASE_AFTER_NEXT_MS)) this.releasePrevious();
    const fields = { code: e.code, signal: e.signal, oomKilled: e.oomKilled, oomKills: e.oomKills, pidsLimitHits: e.pidsLimitHits, runMs: e.runMs, restarts: this.restarts, error: e.error, logTail: e.logTail };
    const what = `service ${this.name} ${describeOutcome(e)} after ${e.runMs} ms`;
    if (d.next === 'stopped') return this.transition('stopped', d.reason, fields, `${what}; stopped`);
    if (d.next === 'backoff') {
      this.nextRetryAt = this.clock.now() + d.delayMs;
      this.transition('backoff', d.reason, { ...fields, delayMs: d.delayMs, nextRetryAt: this.nextRetryAt }, `${what}; restarting in ${d.delayMs} ms`);
      this.cancelRetry = this.clock.after(d.delayMs, () => {
        this.cancelRetry = undefined;
        this.nextRetryAt = undefined;
        this.loop = this.attemptRun(() => {});
      });
      return;
    }
    if (d.next === 'failed' && d.startLimit) {
      const reason = `${d.reason}; ${this.tryAgainHint()}`;
      return this.transition('failed', reason, fields, `service ${this.name} failed: ${reason} (it ${describeOutcome(e)} after ${e.runMs} ms)`);
    }
    this.transition(d.next, d.reason, fields, `${what}; not restarted (${d.reason})`);
  }

  private tryAgainHint(): string {
    return `"keel reset ${this.name}" or "keel start ${this.name}" to try again`;
  }

  /** The notify socket, opened on first start and kept for the service's life. */
  private notifyExtra(): { extra?: ExtraConfig } {
    if (!this.entry.notify) return {};
    if (!this.notifySocket) {
      if (!this.deps.notifyHub) throw new Error('notify: true needs keel-init to provide sd_notify sockets');
      this.notifySocket = this.deps.notifyHub.open(this.name, (fields) => this.onNotify(fields));
    }
    const env = [`NOTIFY_SOCKET=${NOTIFY_PATH_IN_CONTAINER}`];
    if (this.entry.watchdogSec !== undefined) env.push(`WATCHDOG_USEC=${this.entry.watchdogSec * 1000}`);
    return { extra: { mounts: [{ destination: NOTIFY_PATH_IN_CONTAINER, type: 'bind', source: this.notifySocket.path, options: ['rbind', 'rw'] }], env } };
  }

  private onNotify(fields: Map<string, string>): void {
    const status = fields.get('STATUS');
    if (status !== undefined) this.status = status;
    if (fields.get('READY') === '1') {
      // A fast service can say READY=1 before runc has even returned: keep it for the running transition.
      if (this.current === 'starting') this.readyEarly = true;
      else this.markReady('READY=1');
    }
    if (fields.get('WATCHDOG') === '1' && (this.current === 'running' || this.current === 'ready')) this.armWatchdog();
  }

  /** (Re)starts the watchdog: no WATCHDOG=1 within watchdogSec and the service is stopped and restarted by its policy. */
  private armWatchdog(): void {
    const ms = this.entry.watchdogSec;
    if (ms === undefined) return;
    this.cancelWatchdog?.();
    this.cancelWatchdog = this.clock.after(ms, () => {
      this.cancelWatchdog = undefined;
      const run = this.run;
      if (!run || (this.current !== 'running' && this.current !== 'ready')) return;
      this.deps.emit({ kind: 'service.watchdog', level: 'warn', message: `service ${this.name}: no WATCHDOG=1 for ${ms} ms: SIGABRT, then SIGKILL after ${this.entry.stopTimeout} ms`, service: this.name });
      void this.stopRun(run, 'SIGABRT');
    });
  }

  private disarmWatchdog(): void {
    this.cancelWatchdog?.();
    this.cancelWatchdog = undefined;
  }

  private onHealth(healthy: boolean, detail: string): void {
    const was = this.health;
    this.health = healthy ? 'healthy' : 'unhealthy';
    if (was === this.health) return;
    this.deps.emit({ kind: 'service.health', level: healthy ? 'info' : 'warn', message: `service ${this.name} is ${this.health}${detail ? `: ${detail}` : ''}`, service: this.name, health: this.health });
    if (!healthy && this.entry.restartOnUnhealthy && this.run && (this.current === 'ready' || this.current === 'running')) void this.stopRun(this.run);
  }

  /** The stop signal, stopTimeout, then SIGKILL to every process in the container. Resolves when it is gone. */
  private async stopRun(run: RunningContainer, signal: NodeJS.Signals = this.stopSignal()): Promise<boolean> {
    const outcome = await stopContainer(run, signal, this.entry.stopTimeout, {
      sleep: sleepOn(this.clock),
      onEscalate: () =>
        this.deps.emit({ kind: 'service.kill', level: 'warn', message: `service ${this.name} still running ${this.entry.stopTimeout} ms after ${signal}: SIGKILL to every process in it`, service: this.name }),
    });
    if (outcome) return true;
    this.deps.emit({ kind: 'service.stuck', level: 'error', message: `service ${this.name} did not exit within ${KILL_WAIT_MS} ms of SIGKILL (a process stuck in the kernel?); keel gave up waiting for it`, service: this.name });
    return false;
  }

  /** Passes a signal to the running run (a process entry's whole process group); false when none runs. */
  async signal(signal: NodeJS.Signals): Promise<boolean> {
    const run = this.run;
    if (!run || this.pid === undefined) return false;
    await run.signal(signal);
    return true;
  }

  /** The signal the next stop sends: the entry's stopSignal, unless stopWith gave another. */
  private stopSignal(): NodeJS.Signals {
    return this.stopSignalGiven ?? this.entry.stopSignal;
  }

  /**
   * The signal stops send from now on, in the place of the entry's: a container's
   * CMD gets the signal that stopped the container (docker stop with STOPSIGNAL
   * SIGINT: postgres's fast shutdown), as tini passes it on.
   */
  stopWith(signal: NodeJS.Signals): void {
    this.stopSignalGiven = signal;
  }

  /**
   * Shutdown has begun: the policy starts nothing again (a backoff's retry is
   * cancelled, a later exit is not restarted), though the service runs until
   * its turn to stop comes.
   */
  endRestarts(): void {
    this.stopRequested = true;
    this.clearRetry();
  }

  /** keel stop, and shutdown: no restart after this exit. Resolves when it is down and cleaned up. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.stopAttempt();
    // Stopped means nothing of it is left: the last clean-ups end first.
    this.releasePrevious();
    await Promise.all(this.cleaning);
  }

  private async stopAttempt(): Promise<void> {
    if (this.current === 'stopped') return;
    if (AT_REST.includes(this.current)) {
      this.clearRetry();
      this.transition('stopped', 'stopped on request');
      return;
    }
    if (this.current === 'starting') await this.waitFor(['running', 'ready', 'backoff', 'failed', 'completed', 'stopped']);
    const run = this.run;
    if (run && (this.current === 'running' || this.current === 'ready')) {
      this.transition('stopping', `${this.stopSignal()}, then SIGKILL after ${this.entry.stopTimeout} ms`);
      if (!(await this.stopRun(run))) {
        // Its exit, if it ever comes, is recorded then; the stop is over now.
        this.abandoned = this.attempt;
        this.endOfRun();
        this.transition('stopped', `gave up waiting ${KILL_WAIT_MS} ms after SIGKILL`);
        return;
      }
    }
    await this.loop;
    // The attempt itself normally lands on stopped; this covers one that ended before the stop could reach it.
    if (this.state !== 'stopped') {
      this.clearRetry();
      this.transition('stopped', 'stopped on request');
    }
  }

  /** Releases what outlives runs: the log file and the notify socket. */
  close(): void {
    this.logs.close();
    this.notifySocket?.close();
    this.notifySocket = undefined;
  }

  async restartNow(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** keel reset: forget failures, restarts and the start limit; a failed service starts again. */
  async reset(): Promise<void> {
    this.history = FRESH_HISTORY;
    this.starts.clear();
    if (this.current === 'failed') await this.start();
  }

  /** Resolves when the service holds no process (at rest: its last exit, if any, recorded). */
  atRest(): Promise<void> {
    return this.waitFor(AT_REST);
  }

  private waitFor(states: readonly ServiceState[]): Promise<void> {
    if (states.includes(this.current)) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onChange((s) => {
        if (states.includes(s.state)) {
          off();
          resolve();
        }
      });
    });
  }

  /** What `keel ps` and `keel inspect` show. */
  summary(): ServiceSummary {
    const last = this.exits.at(-1);
    return {
      name: this.name,
      state: this.current,
      reason: this.reason,
      pid: this.pid,
      health: this.entry.ready ? this.health : undefined,
      status: this.status,
      attempt: this.attempt,
      restarts: this.restarts,
      startedAt: this.startedAt,
      readyAt: this.readyAt,
      nextRetryAt: this.nextRetryAt,
      restart: formatRestart(this.entry.restart),
      pidsLimitHits: this.pid !== undefined ? this.pidsLimitHits : undefined,
      lastExit: last ? { code: last.code, signal: last.signal, oomKilled: last.oomKilled, error: last.error, exitedAt: last.exitedAt, runMs: last.runMs } : undefined,
    };
  }
}

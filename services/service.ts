// One supervised service: an explicit state machine around repeated runs of
// its container. Every transition is one event; every exit is recorded with
// its code or signal, OOM kills, run time, and the last lines of its log.
//
//   waiting ─► starting ─► running ─► ready ─┐
//      ▲           │          │               ├─► (exit) ─► backoff ─► starting …
//      │           └──────────┴───────────────┘      └────► completed | failed
//   stopping ─► stopped   (keel stop, or shutdown)
import { join } from 'node:path';
import { formatRestart, type RestartPolicy, type ServiceEntry } from '../model/index.js';
import { ContainerLog } from '../runtime/container-log.js';
import { ContainerRun, sleep, type RunDeps } from '../runtime/container-run.js';
import { backoffDelay, StartLimit } from './backoff.js';
import type { KeelEventInput } from '../events/bus.js';
import { LogRing, RotatingFile } from './log-ring.js';
import { Probe } from './probe.js';
import { NOTIFY_PATH_IN_CONTAINER, type NotifyHub, type NotifySocket } from './notify.js';
import type { ExtraConfig } from '../runtime/oci-spec.js';

export type ServiceState = 'waiting' | 'starting' | 'running' | 'ready' | 'stopping' | 'backoff' | 'completed' | 'failed' | 'stopped';

export interface ExitRecord {
  attempt: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  oomKilled: boolean;
  oomKills: number;
  /** Could not start at all. */
  error?: string;
  startedAt: number;
  exitedAt: number;
  runMs: number;
  logTail: string[];
}

/** What `keel ps` lists for a service (GET /v1/services). */
export interface ServiceSummary {
  name: string;
  state: ServiceState;
  reason: string;
  pid: number | undefined;
  health: 'unknown' | 'healthy' | 'unhealthy' | undefined;
  status: string | undefined;
  attempt: number;
  restarts: number;
  startedAt: number | undefined;
  readyAt: number | undefined;
  nextRetryAt: number | undefined;
  restart: string;
  lastExit: Pick<ExitRecord, 'code' | 'signal' | 'oomKilled' | 'error' | 'exitedAt' | 'runMs'> | undefined;
}

/** What `keel inspect` shows (GET /v1/services/NAME). */
export interface ServiceDetail extends ServiceSummary {
  exits: ExitRecord[];
  droppedLogLines: number;
}

export interface ServiceDeps extends RunDeps {
  emit: (e: KeelEventInput) => void;
  /** Provides sd_notify sockets; without it, notify: true services cannot start. */
  notifyHub?: NotifyHub;
}

const KEEP_EXITS = 20;

function describeExit(e: ExitRecord): string {
  if (e.error) return `failed to start: ${e.error}`;
  if (e.oomKilled) return `was killed by the OOM killer (${e.signal})`;
  if (e.signal) return `was killed by ${e.signal}`;
  return `exited ${e.code}${e.oomKills > 0 ? ` (the OOM killer killed ${e.oomKills} of its processes)` : ''}`;
}

export class Service {
  state: ServiceState = 'waiting';
  reason = '';
  attempt = 0;
  restarts = 0;
  private failures = 0;
  startedAt: number | undefined;
  readyAt: number | undefined;
  nextRetryAt: number | undefined;
  health: 'unknown' | 'healthy' | 'unhealthy' = 'unknown';
  readonly exits: ExitRecord[] = [];
  readonly logs: LogRing;
  readonly restart: RestartPolicy;
  private run: ContainerRun | undefined;
  private probe: Probe | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly startLimit: StartLimit;
  /** Set by keel stop or shutdown: the exit that follows is not restarted. */
  private stopRequested = false;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(s: Service) => void>();
  private notifySocket: NotifySocket | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** The last STATUS= the service sent over sd_notify. */
  status: string | undefined;
  /** READY=1 arrived while this attempt was still starting. */
  private readyEarly = false;

  constructor(
    readonly entry: ServiceEntry,
    private readonly deps: ServiceDeps,
  ) {
    this.restart = entry.restart;
    this.startLimit = new StartLimit(entry.startLimit.burst, entry.startLimit.interval);
    const file = entry.logs.file ? new RotatingFile(join(deps.stateDir, 'logs', `${entry.name}.log`), entry.logs.maxFileSize, entry.logs.keepFiles) : undefined;
    this.logs = new LogRing(entry.logs.lines, entry.logs.bytes, file);
  }

  get name(): string {
    return this.entry.name;
  }

  get pid(): number | undefined {
    return this.state === 'running' || this.state === 'ready' || this.state === 'stopping' ? this.run?.pid : undefined;
  }

  get cgroupsPath(): string | undefined {
    return this.run?.cgroupsPath;
  }

  /** Called on every transition (the supervisor uses it to release dependents). */
  onChange(listener: (s: Service) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private transition(to: ServiceState, reason = '', fields: Record<string, unknown> = {}, message?: string): void {
    const from = this.state;
    this.state = to;
    this.reason = reason;
    const quiet = to === 'starting' || to === 'running' && Boolean(this.entry.ready);
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

  /** Starts the service (from any resting state). Resolves once its container is started or has failed to start. */
  start(): Promise<void> {
    if (this.state === 'starting' || this.state === 'running' || this.state === 'ready' || this.state === 'stopping') return Promise.resolve();
    this.clearRetry();
    this.stopRequested = false;
    // Only a person starts a failed service (keel start): that is a fresh chance, as systemd gives.
    if (this.state === 'failed') this.startLimit.reset();
    return new Promise((resolve) => {
      this.loop = this.runOnce(resolve);
    });
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextRetryAt = undefined;
  }

  /** One attempt: start, wait for the exit, record it, decide what comes next. */
  private async runOnce(started: () => void, isRestart = false): Promise<void> {
    const now = Date.now();
    if (!this.startLimit.tryStart(now)) {
      started();
      this.transition('failed', `start limit reached: ${this.entry.startLimit.burst} starts within ${this.entry.startLimit.interval} ms; "keel reset ${this.name}" or "keel start ${this.name}" to try again`);
      return;
    }
    if (isRestart) this.restarts++;
    this.attempt++;
    this.readyEarly = false;
    this.transition('starting');
    const attempt = this.attempt;
    const log = new ContainerLog(undefined, (stream, line) => this.logs.push({ time: Date.now(), stream, attempt, line }));
    const record: ExitRecord = { attempt, code: null, signal: null, oomKilled: false, oomKills: 0, startedAt: now, exitedAt: now, runMs: 0, logTail: [] };
    let run: ContainerRun;
    try {
      run = new ContainerRun('services', this.entry, this.deps, log, this.notifyExtra());
    } catch (err) {
      started();
      record.error = (err as Error).message;
      this.exits.push(record);
      this.transition('failed', record.error);
      return;
    }
    this.run = run;
    try {
      await run.start();
      this.startedAt = Date.now();
      this.transition('running', '', { pid: run.pid }, `service ${this.name} running (pid ${run.pid})`);
      started();
      this.armWatchdog();
      if (this.entry.notify) {
        // Ready when the service says READY=1 (see onNotify), which may already have come.
        if (this.readyEarly) this.markNotifyReady();
      } else if (this.entry.ready) {
        this.probe = new Probe(this.entry.ready, (cmd, timeout) => this.deps.driver.exec(run.id, cmd, timeout), {
          ready: () => {
            if (this.state !== 'running') return;
            this.readyAt = Date.now();
            this.health = 'healthy';
            this.transition('ready', '', {}, `service ${this.name} ready after ${this.readyAt - (this.startedAt ?? this.readyAt)} ms`);
          },
          health: (healthy, detail) => this.onHealth(healthy, detail),
        });
        this.probe.start();
      } else {
        this.readyAt = Date.now();
        this.transition('ready');
      }
      const status = await run.exited!;
      record.code = status.code;
      record.signal = status.signal;
    } catch (err) {
      record.error = (err as Error).message;
      started();
    }
    this.probe?.stop();
    this.probe = undefined;
    this.disarmWatchdog();
    const oom = await run.cleanup();
    log.close();
    record.exitedAt = Date.now();
    record.runMs = this.startedAt && !record.error ? record.exitedAt - this.startedAt : 0;
    record.oomKills = oom.oomKills;
    record.oomKilled = oom.oomKilled;
    record.logTail = this.logs.read({ attempt, tail: 10 }).map((l) => l.line);
    this.exits.push(record);
    if (this.exits.length > KEEP_EXITS) this.exits.shift();
    this.startedAt = undefined;
    this.readyAt = undefined;
    this.health = 'unknown';
    this.decide(record);
  }

  private decide(e: ExitRecord): void {
    const failedRun = e.error !== undefined || e.code !== 0 || e.signal !== null;
    const exitFields = { code: e.code, signal: e.signal, oomKilled: e.oomKilled, oomKills: e.oomKills, runMs: e.runMs, restarts: this.restarts, error: e.error, logTail: e.logTail };
    const what = `service ${this.name} ${describeExit(e)} after ${e.runMs} ms`;
    if (this.stopRequested) {
      this.transition('stopped', 'stopped on request', exitFields, `${what}; stopped`);
      return;
    }
    // A run that lasted resetAfter is a stable one: the next failure starts the backoff over.
    if (e.runMs >= this.entry.backoff.resetAfter) this.failures = 0;
    if (failedRun) this.failures++;
    const p = this.restart;
    let again = p.policy === 'always' || p.policy === 'unless-stopped' || (p.policy === 'on-failure' && failedRun);
    let why = '';
    if (p.policy === 'on-failure' && failedRun && p.maxRetries !== undefined && this.restarts >= p.maxRetries) {
      again = false;
      why = `gave up after ${p.maxRetries} restart(s) (on-failure:${p.maxRetries})`;
    }
    if (!again) {
      const final = failedRun ? 'failed' : 'completed';
      this.transition(final, why || `restart: ${formatRestart(this.restart)}`, exitFields, `${what}; not restarted (${why || `restart: ${formatRestart(this.restart)}`})`);
      return;
    }
    const delay = backoffDelay(this.entry.backoff, Math.max(1, this.failures));
    this.nextRetryAt = Date.now() + delay;
    this.transition('backoff', `restart in ${delay} ms`, { ...exitFields, delayMs: delay, nextRetryAt: this.nextRetryAt }, `${what}; restarting in ${delay} ms`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.nextRetryAt = undefined;
      this.loop = this.runOnce(() => {}, true);
    }, delay);
  }

  /** The notify socket, opened on first start and kept for the service's life. */
  private notifyExtra(): ExtraConfig | undefined {
    if (!this.entry.notify) return undefined;
    if (!this.notifySocket) {
      if (!this.deps.notifyHub) throw new Error('notify: true needs keel-init to provide sd_notify sockets');
      this.notifySocket = this.deps.notifyHub.open(this.name, (fields) => this.onNotify(fields));
    }
    const env = [`NOTIFY_SOCKET=${NOTIFY_PATH_IN_CONTAINER}`];
    if (this.entry.watchdogSec !== undefined) env.push(`WATCHDOG_USEC=${this.entry.watchdogSec * 1000}`);
    return {
      mounts: [{ destination: NOTIFY_PATH_IN_CONTAINER, type: 'bind', source: this.notifySocket.path, options: ['rbind', 'rw'] }],
      env,
    };
  }

  private onNotify(fields: Map<string, string>): void {
    const status = fields.get('STATUS');
    if (status !== undefined) this.status = status;
    if (fields.get('READY') === '1') {
      // A fast service can say READY=1 before runc has even returned: keep it for the running transition.
      if (this.state === 'starting') this.readyEarly = true;
      else if (this.state === 'running') this.markNotifyReady();
    }
    if (fields.get('WATCHDOG') === '1' && (this.state === 'running' || this.state === 'ready')) this.armWatchdog();
  }

  private markNotifyReady(): void {
    this.readyAt = Date.now();
    this.transition('ready', '', {}, `service ${this.name} ready (READY=1) after ${this.readyAt - (this.startedAt ?? this.readyAt)} ms${this.status ? `: ${this.status}` : ''}`);
  }

  /** (Re)starts the watchdog: no WATCHDOG=1 within watchdogSec and the service is stopped and restarted by its policy. */
  private armWatchdog(): void {
    const ms = this.entry.watchdogSec;
    if (ms === undefined) return;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      const run = this.run;
      if (!run || (this.state !== 'running' && this.state !== 'ready')) return;
      this.deps.emit({ kind: 'service.watchdog', level: 'warn', message: `service ${this.name}: no WATCHDOG=1 for ${ms} ms: SIGABRT, then SIGKILL after ${this.entry.stopTimeout} ms`, service: this.name });
      void this.signalAndWait(run, false, 'SIGABRT');
    }, ms);
  }

  private disarmWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private onHealth(healthy: boolean, detail: string): void {
    const was = this.health;
    this.health = healthy ? 'healthy' : 'unhealthy';
    if (was === this.health) return;
    this.deps.emit({ kind: 'service.health', level: healthy ? 'info' : 'warn', message: `service ${this.name} is ${this.health}${detail ? `: ${detail}` : ''}`, service: this.name, health: this.health });
    if (!healthy && this.entry.restartOnUnhealthy && this.run && (this.state === 'ready' || this.state === 'running')) {
      void this.signalAndWait(this.run, false);
    }
  }

  /** Stop signal, stopTimeout, then SIGKILL to the whole cgroup. Resolves when the init is reaped. */
  private async signalAndWait(run: ContainerRun, quietKill: boolean, signal = this.entry.stopSignal as NodeJS.Signals): Promise<void> {
    await run.kill(signal).catch(() => undefined);
    if ((await Promise.race([run.exited!, sleep(this.entry.stopTimeout)])) === 'timeout') {
      this.deps.emit({
        kind: 'service.kill',
        level: quietKill ? 'info' : 'warn',
        message: `service ${this.name} still running ${this.entry.stopTimeout} ms after ${signal}: SIGKILL to every process in it`,
        service: this.name,
      });
      await run.kill('SIGKILL', true).catch(() => undefined);
      await run.exited;
    }
  }

  /** keel stop, and shutdown: no restart after this exit. Resolves when it is down. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    if (this.state === 'backoff' || this.state === 'waiting' || this.state === 'failed' || this.state === 'completed') {
      this.clearRetry();
      this.transition('stopped', 'stopped on request');
      return;
    }
    if (this.state === 'stopped') return;
    const run = this.run;
    if (this.state === 'starting') await this.waitFor(['running', 'ready', 'backoff', 'failed', 'completed', 'stopped']);
    if (this.state === 'running' || this.state === 'ready') {
      this.transition('stopping', `${this.entry.stopSignal}, then SIGKILL after ${this.entry.stopTimeout} ms`);
      if (run) await this.signalAndWait(run, false);
    }
    await this.loop;
    // The run's own decide() normally lands on stopped; this covers a start that never ran.
    if ((this.state as ServiceState) !== 'stopped') {
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

  /** keel reset: forget failures and the start limit; a failed service starts again. */
  async reset(): Promise<void> {
    this.failures = 0;
    this.restarts = 0;
    this.startLimit.reset();
    if (this.state === 'failed') await this.start();
  }

  private waitFor(states: ServiceState[]): Promise<void> {
    if (states.includes(this.state)) return Promise.resolve();
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
      state: this.state,
      reason: this.reason,
      pid: this.pid,
      health: this.entry.ready ? this.health : undefined,
      status: this.status,
      attempt: this.attempt,
      restarts: this.restarts,
      startedAt: this.startedAt,
      readyAt: this.readyAt,
      nextRetryAt: this.nextRetryAt,
      restart: formatRestart(this.restart),
      lastExit: last ? { code: last.code, signal: last.signal, oomKilled: last.oomKilled, error: last.error, exitedAt: last.exitedAt, runMs: last.runMs } : undefined,
    };
  }
}

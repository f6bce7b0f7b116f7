// Readiness and health by running a command in the container (runc exec).
// Until the first success the service is not ready; after it, `retries`
// consecutive failures make it unhealthy and one success healthy again.
// Failures within startPeriod do not count.
import type { ExecResult } from '../runtime/engine.js';
import type { Clock } from './clock.js';

/** The least time between the end of one check and the start of the next, whatever the interval. */
export const MIN_PROBE_GAP_MS = 100;

export interface ProbeConfig {
  exec: string[];
  interval: number;
  timeout: number;
  retries: number;
  startPeriod: number;
}

export interface ProbeEvents {
  ready: () => void;
  health: (healthy: boolean, detail: string) => void;
  /** A check before the first success failed, and why (a probe that times out for minutes must say so somewhere). */
  notReady?: (detail: string) => void;
}

export class Probe {
  private cancel: (() => void) | undefined;
  private stopped = false;
  private isReady = false;
  private failures = 0;
  private readonly begun: number;

  constructor(
    private readonly cfg: ProbeConfig,
    private readonly exec: (cmd: string[], timeoutMs: number) => Promise<ExecResult>,
    private readonly events: ProbeEvents,
    private readonly clock: Clock,
  ) {
    this.begun = clock.monotonic();
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    let detail = '';
    let timedOut = false;
    try {
      const r = await this.exec(this.cfg.exec, this.cfg.timeout);
      ok = r.code === 0;
      timedOut = r.timedOut;
      detail = r.timedOut ? `timed out after ${this.cfg.timeout} ms` : ok ? '' : `${this.cfg.exec.join(' ')} exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`;
    } catch (err) {
      detail = (err as Error).message;
    }
    if (this.stopped) return;
    if (ok) {
      this.failures = 0;
      if (!this.isReady) {
        this.isReady = true;
        this.events.ready();
      } else this.events.health(true, '');
    } else if (!this.isReady) {
      this.events.notReady?.(detail);
    } else if (this.clock.monotonic() - this.begun >= this.cfg.startPeriod) {
      this.failures++;
      if (this.failures >= this.cfg.retries) this.events.health(false, detail);
    }
    // After a timeout the next check waits at least as long again. A runc exec killed at its timeout can leave its
    // `runc init` running in the container (it was past runc's fork, before its pid file): under qemu TCG, checks every
    // 500 ms with a 5 s timeout piled up a dozen of them, each slowing the next check past its timeout, for good.
    // An interval of 0 with a check that fails at once (a program not found) would run checks back to back, a core's worth.
    const wait = Math.max(MIN_PROBE_GAP_MS, timedOut ? Math.max(this.cfg.interval, this.cfg.timeout) : this.cfg.interval);
    this.cancel = this.clock.after(wait, () => void this.tick());
  }
}

// The reaper: keel is every orphan's parent (PID 1, or a child subreaper when
// it is not PID 1), so it collects their exit statuses. It never takes a pid
// that child_process or node-pty waits for (see owned-children.ts), and it
// hands each status to whoever asked for that pid (the runtime, for container
// init processes that runc left to us).
import { constants } from 'node:os';
import { isOwned } from './owned-children.js';
import { listChildren } from '../../runtime/procfs.js';
import type { ReapResult, Sys } from './sys.js';

export interface ExitStatus {
  pid: number;
  /** Exit code when it exited, else null. */
  code: number | null;
  /** Signal name when a signal killed it, else null. */
  signal: NodeJS.Signals | null;
}

type Waiter = (status: ExitStatus) => void;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) SIGNAL_NAMES.set(num, name as NodeJS.Signals);

export function toExitStatus(r: ReapResult): ExitStatus {
  const signal = r.signal !== undefined && r.signal >= 0 ? (SIGNAL_NAMES.get(r.signal) ?? (`SIG${r.signal}` as NodeJS.Signals)) : null;
  return { pid: r.pid, code: r.code !== undefined && r.code >= 0 ? r.code : null, signal };
}

export interface ReaperOptions {
  /** Safety sweep period: SIGCHLD is the trigger, this only covers the unexpected. */
  sweepMs?: number;
  /** How many statuses of unclaimed pids to keep for a watcher that asks late. */
  keepUnclaimed?: number;
  onReaped?: (status: ExitStatus, claimed: boolean) => void;
}

/** How long an unclaimed status is kept even past keepUnclaimed. */
const UNCLAIMED_MIN_AGE_MS = 30_000;
/** ... up to this many times keepUnclaimed (each a few dozen bytes). */
const UNCLAIMED_HARD_FACTOR = 16;

export class Reaper {
  private readonly waiters = new Map<number, Waiter[]>();
  /** Statuses nobody waited for yet, with when (performance.now()) they were reaped. */
  private readonly unclaimed = new Map<number, { status: ExitStatus; at: number }>();
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly keepUnclaimed: number;
  reapedCount = 0;

  constructor(
    private readonly sys: Sys,
    private readonly options: ReaperOptions = {},
  ) {
    this.keepUnclaimed = options.keepUnclaimed ?? 4096;
  }

  start(): void {
    this.sys.setChildSubreaper();
    // Node lets several listeners share SIGCHLD with libuv's own handler.
    process.on('SIGCHLD', () => this.schedule());
    this.timer = setInterval(() => this.schedule(), this.options.sweepMs ?? 2000);
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Resolves with the pid's exit status once it is reaped. If the pid was
   * already reaped (it exited before anyone asked), resolves at once; `since`
   * (a performance.now() from before the pid could have been born) keeps an
   * older process that had the same pid from answering for it.
   */
  wait(pid: number, since = -Infinity): Promise<ExitStatus> {
    const early = this.unclaimed.get(pid);
    if (early) {
      this.unclaimed.delete(pid);
      if (early.at >= since) return Promise.resolve(early.status);
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(pid) ?? [];
      list.push(resolve);
      this.waiters.set(pid, list);
      this.schedule(); // it may already be a zombie
    });
  }

  /** Runs a sweep soon; several SIGCHLDs in a burst give one sweep. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      try {
        this.sweep();
      } catch {
        // A failed /proc read must not stop reaping: the next SIGCHLD or tick retries.
      }
    });
  }

  /** Reaps every exited child that nobody else waits for. Returns how many. */
  sweep(): number {
    // Fast path: ask the kernel which child has exited (without reaping it), and
    // reap that one if it is ours to reap. When the answer is a child that
    // child_process or node-pty owns, the kernel keeps giving it until its
    // owner collects it, so fall back to walking our children.
    let n = 0;
    for (;;) {
      const pid = this.sys.peekExited();
      if (pid === 0) return n;
      if (isOwned(pid)) break;
      const r = this.sys.reap(pid);
      if (r === undefined || r.gone) break;
      n++;
      this.deliver(toExitStatus(r));
    }
    return n + this.scan();
  }

  /** The slow path: every child from /proc, each asked with waitpid(pid, WNOHANG). */
  private scan(): number {
    let n = 0;
    // Loop until a pass finds nothing: children can exit while we sweep.
    for (;;) {
      let found = 0;
      for (const pid of listChildren()) {
        if (isOwned(pid)) continue;
        const r = this.sys.reap(pid);
        if (r === undefined || r.gone) continue;
        found++;
        this.deliver(toExitStatus(r));
      }
      n += found;
      if (found === 0) return n;
    }
  }

  private deliver(status: ExitStatus): void {
    this.reapedCount++;
    const list = this.waiters.get(status.pid);
    if (list) {
      this.waiters.delete(status.pid);
      for (const w of list) w(status);
    } else {
      this.unclaimed.delete(status.pid); // re-insert so the map stays oldest-first
      const now = performance.now();
      this.unclaimed.set(status.pid, { status, at: now });
      if (this.unclaimed.size > this.keepUnclaimed) {
        // A status reaped moments ago may be a container init's whose run is about to ask for it (its pid
        // learnt from runc after it had already exited): a flood of orphans must not push it out. So past
        // the limit only one older than UNCLAIMED_MIN_AGE_MS goes, unless the map is far past the limit.
        const [oldest, kept] = this.unclaimed.entries().next().value!;
        if (now - kept.at > UNCLAIMED_MIN_AGE_MS || this.unclaimed.size > this.keepUnclaimed * UNCLAIMED_HARD_FACTOR) this.unclaimed.delete(oldest);
      }
    }
    this.options.onReaped?.(status, list !== undefined);
  }
}

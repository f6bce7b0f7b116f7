// Time as supervision sees it: the current time and timers, injected so that
// the supervisor's whole behaviour (backoff, start limits, probes, stop
// timeouts) can be tested with a clock the test moves by hand.

export interface Clock {
  /** Milliseconds since the epoch: for times shown (log lines, exit records, inspect). */
  now(): number;
  /**
   * Milliseconds from an arbitrary start that only moves forward: for every
   * duration, window and deadline. The wall clock can be stepped (ntpd at
   * boot, an RTC set late, an admin's date -s), and a run timed across a step
   * would seem hours long or negative.
   */
  monotonic(): number;
  /** Calls `fn` once, `ms` from now. Returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/**
 * Node's timers take at most 2^31-1 ms (about 24.8 days); a longer delay
 * fires at once. Longer waits are made of several timers in a row.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => Math.round(performance.now()), // whole ms, as Date.now() gives
  after(ms, fn) {
    // Node makes a 0 ms timer a 1 ms one, and the loop then sleeps that millisecond in epoll: a restart
    // with no backoff (or any "now") runs in this turn's check phase instead, still after what is pending.
    if (ms <= 0) {
      const immediate = setImmediate(fn);
      return () => clearImmediate(immediate);
    }
    let timer: NodeJS.Timeout;
    const arm = (left: number) => {
      timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
};

export function sleepOn(clock: Clock): (ms: number) => Promise<void> {
  return (ms) => new Promise((resolve) => void clock.after(ms, resolve));
}

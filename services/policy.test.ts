// The restart policy as pure functions: every row of the restart table, the
// limits that override it (on-failure:N, the start limit), stop requests,
// the backoff and what resets it.
import { describe, expect, it } from 'vitest';
import type { RestartPolicy } from '../model/index.js';
import type { Outcome } from '../runtime/outcome.js';
import { afterExit, backoffDelay, FRESH_HISTORY, RESTART_TABLE, startRefusal, type PolicyConfig, type RestartHistory } from './policy.js';
import { StartWindow } from './start-window.js';

/** A start window holding these starts. */
const window = (times: number[], burst = startLimit.burst, interval = startLimit.interval) => {
  const w = new StartWindow();
  for (const t of times) w.record(t, burst, interval);
  return w;
};
const NONE = new StartWindow();

const backoff = { initial: 100, factor: 2, max: 1000, jitter: 0, resetAfter: 10_000 };
const startLimit = { burst: 5, interval: 10_000 };
const cfg = (restart: RestartPolicy): PolicyConfig => ({ restart, backoff, startLimit });
const ended = (o: Partial<Outcome>): Outcome => ({ code: 0, signal: null, oomKilled: false, oomKills: 0, timedOut: false, ...o });

/** Every way a run can end, and whether it counts as a failure. */
const ENDINGS: Array<[string, Outcome, boolean]> = [
  ['exit 0', ended({}), false],
  ['exit 1', ended({ code: 1 }), true],
  ['a signal', ended({ code: null, signal: 'SIGKILL' }), true],
  ['an OOM kill of the init', ended({ code: null, signal: 'SIGKILL', oomKilled: true, oomKills: 1 }), true],
  ['an OOM kill of a child, the init exiting 0', ended({ oomKills: 1 }), true],
  ['a timeout', ended({ code: null, signal: 'SIGKILL', timedOut: true }), true],
  ['a failure to start', ended({ code: null, error: 'runc create: no such file' }), true],
];

describe('the restart table', () => {
  const policies = Object.keys(RESTART_TABLE) as Array<RestartPolicy['policy']>;
  for (const policy of policies) {
    for (const [how, outcome, failed] of ENDINGS) {
      const again = RESTART_TABLE[policy][failed ? 'failed' : 'succeeded'];
      it(`${policy}, after ${how}: ${again ? 'restart' : failed ? 'failed' : 'completed'}`, () => {
        const { decision, history } = afterExit(cfg({ policy }), { outcome, runMs: 50, stopRequested: false }, FRESH_HISTORY, NONE, 1000, () => 0.5);
        if (again) {
          expect(decision).toEqual({ next: 'backoff', delayMs: 100, reason: 'restart in 100 ms' });
          expect(history.restarts).toBe(1);
        } else {
          expect(decision).toEqual({ next: failed ? 'failed' : 'completed', reason: `restart: ${policy}` });
          expect(history.restarts).toBe(0);
        }
        expect(history.failures).toBe(failed ? 1 : 0);
      });
    }
  }

  it('has a row for every policy the manifest accepts, and Docker\'s meaning in each', () => {
    expect(RESTART_TABLE).toEqual({
      no: { succeeded: false, failed: false },
      'on-failure': { succeeded: false, failed: true },
      always: { succeeded: true, failed: true },
      'unless-stopped': { succeeded: true, failed: true },
    });
  });
});

describe('what overrides the table', () => {
  const fail = { outcome: ended({ code: 1 }), runMs: 10, stopRequested: false };

  it('a stop request: stopped, never restarted, whatever the policy and the ending', () => {
    for (const policy of Object.keys(RESTART_TABLE) as Array<RestartPolicy['policy']>) {
      for (const [, outcome] of ENDINGS) {
        const { decision, history } = afterExit(cfg({ policy }), { outcome, runMs: 10, stopRequested: true }, FRESH_HISTORY, NONE, 0);
        expect(decision).toEqual({ next: 'stopped', reason: 'stopped on request' });
        expect(history).toBe(FRESH_HISTORY);
      }
    }
  });

  it('on-failure:N gives up after N restarts', () => {
    const c = cfg({ policy: 'on-failure', maxRetries: 2 });
    let h: RestartHistory = FRESH_HISTORY;
    const next: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = afterExit(c, fail, h, NONE, i * 1000);
      next.push(r.decision.next);
      h = r.history;
    }
    expect(next).toEqual(['backoff', 'backoff', 'failed']);
    expect(afterExit(c, fail, h, NONE, 9000).decision).toEqual({ next: 'failed', reason: 'gave up after 2 restart(s) (on-failure:2)' });
    // A success under on-failure:N is completed, whatever the count.
    expect(afterExit(c, { ...fail, outcome: ended({}) }, h, NONE, 9000).decision.next).toBe('completed');
  });

  it('the start limit: no restart that would be the burst+1th start within the interval', () => {
    const c = cfg({ policy: 'always' });
    const h: RestartHistory = { failures: 4, restarts: 4 };
    const starts = window([0, 1000, 2000, 3000, 4000]);
    expect(afterExit(c, fail, h, starts, 4500, () => 0.5).decision).toEqual({ next: 'failed', reason: 'start limit reached: 5 starts within 10000 ms', startLimit: true });
    // When the oldest start will have left the window by the time of the restart, it may go ahead.
    const later = afterExit(c, { ...fail, runMs: 9000 }, h, starts, 9950, () => 0.5);
    expect(later.decision).toMatchObject({ next: 'backoff', delayMs: 1000 });
  });

  it('admits a start within the limit; refuses the one past it', () => {
    const starts = new StartWindow();
    for (const t of [0, 10, 20, 30, 40]) {
      expect(startRefusal(startLimit, starts, t)).toBeUndefined();
      starts.record(t, startLimit.burst, startLimit.interval);
    }
    expect(startRefusal(startLimit, starts, 50)).toBe('start limit reached: 5 starts within 10000 ms');
    expect(startRefusal(startLimit, starts, 10_005)).toBeUndefined();
    starts.record(10_005, startLimit.burst, startLimit.interval);
    expect(starts.list()).toEqual([10, 20, 30, 40, 10_005]);
  });
});

describe('the start window', () => {
  it('keeps only the newest burst starts, and none older than the interval', () => {
    expect(window([0, 1, 2, 3, 4, 5, 6], 3, 100).list()).toEqual([4, 5, 6]);
    expect(window([0, 50, 120, 130], 10, 100).list()).toEqual([50, 120, 130]);
    expect(window([0, 50, 120, 130], 10, 100).countWithin(200, 100)).toBe(2);
    expect(window([0, 50, 120, 130], 10, 100).countWithin(149, 100)).toBe(3);
    expect(window([0, 50, 120, 130], 10, 100).countWithin(150, 100)).toBe(2);
  });

  it('stays as long as its window with a huge burst, and counts by bisection', () => {
    // {burst: 10000000, interval: 1h} at a restart every 2 ms: a start window of an hour would hold 1.8 million.
    const w = new StartWindow();
    for (let t = 0; t < 600_000; t += 2) w.record(t, 10_000_000, 100_000);
    expect(w.list()).toHaveLength(50_000);
    expect(w.countWithin(600_000, 100_000)).toBe(49_999);
    expect(w.countWithin(650_000, 100_000)).toBe(24_999);
  });
});

describe('backoff', () => {
  it('doubles from the initial delay up to the cap, within the jitter', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(backoff, n, Math.random))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const jittered = { ...backoff, jitter: 0.1 };
    expect(backoffDelay(jittered, 3, () => 0)).toBe(360);
    expect(backoffDelay(jittered, 3, () => 1)).toBe(440);
  });

  it('stays a number after thousands of failures in a row: 0 from a 0 ms start, the cap from any other', () => {
    expect([1, 1025, 5000].map((n) => backoffDelay({ ...backoff, initial: 0, jitter: 0 }, n, Math.random))).toEqual([0, 0, 0]);
    expect([1025, 5000].map((n) => backoffDelay({ ...backoff, jitter: 0.5 }, n, () => 0.5))).toEqual([1000, 1000]);
  });

  it('grows with failures in a row, and a run that lasted resetAfter starts it over', () => {
    const c = cfg({ policy: 'always' });
    const limitless = { ...c, startLimit: { burst: 1000, interval: 1000 } };
    let h: RestartHistory = FRESH_HISTORY;
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = afterExit(limitless, { outcome: ended({ code: 1 }), runMs: 10, stopRequested: false }, h, NONE, i);
      if (r.decision.next === 'backoff') delays.push(r.decision.delayMs);
      h = r.history;
    }
    expect(delays).toEqual([100, 200, 400, 800]);
    const stable = afterExit(limitless, { outcome: ended({ code: 1 }), runMs: 10_000, stopRequested: false }, h, NONE, 10);
    expect(stable.decision).toMatchObject({ next: 'backoff', delayMs: 100 });
    expect(stable.history.failures).toBe(1);
    // Successes under always keep the initial delay and do not count as failures.
    const ok = afterExit(limitless, { outcome: ended({}), runMs: 10, stopRequested: false }, FRESH_HISTORY, NONE, 0);
    expect(ok.decision).toMatchObject({ next: 'backoff', delayMs: 100 });
    expect(ok.history.failures).toBe(0);
  });
});

// The restart policy, as pure functions: given the policy, how the run
// ended, what came before and the time, what happens next. No timers, no
// containers, no state of its own, so every row of the table below is
// tested directly (services/policy.test.ts).
//
// Docker's meanings for the policies; systemd's start limit; exponential
// backoff with jitter, reset by a run that lasted resetAfter.
import type { RestartPolicy } from '../model/index.js';
import { isFailure, type Outcome } from '../runtime/outcome.js';

export interface BackoffConfig {
  initial: number;
  factor: number;
  max: number;
  /** Random spread of each delay, as a fraction (0.1 = ±10%). */
  jitter: number;
  /** A run this long resets the delay to initial. */
  resetAfter: number;
}

export interface StartLimitConfig {
  /** At most this many starts … */
  burst: number;
  /** … within any window this long (ms). */
  interval: number;
}

export interface PolicyConfig {
  restart: RestartPolicy;
  backoff: BackoffConfig;
  startLimit: StartLimitConfig;
}

/** What the policy remembers between runs. (The recent starts, for the start limit, are a StartWindow the service keeps beside it.) */
export interface RestartHistory {
  /** Failed runs in a row since the last stable run: the backoff's exponent. */
  failures: number;
  /** Restarts the policy made since the last reset (what on-failure:N counts). */
  restarts: number;
}

export const FRESH_HISTORY: RestartHistory = { failures: 0, restarts: 0 };

/** The recent starts as the policy reads them: how many fell within `interval` ms before `at` (monotonic ms). */
export interface RecentStarts {
  countWithin(at: number, interval: number): number;
}

/** Whether a policy restarts a run that succeeded or failed. */
export const RESTART_TABLE: Readonly<Record<RestartPolicy['policy'], Readonly<Record<'succeeded' | 'failed', boolean>>>> = {
  no: { succeeded: false, failed: false },
  'on-failure': { succeeded: false, failed: true },
  always: { succeeded: true, failed: true },
  'unless-stopped': { succeeded: true, failed: true },
};

export type Decision =
  | { next: 'stopped'; reason: string }
  | { next: 'backoff'; delayMs: number; reason: string }
  | { next: 'completed'; reason: string }
  | { next: 'failed'; reason: string; startLimit?: true };

export interface ExitFacts {
  outcome: Outcome;
  /** How long it ran (0 when it never started). */
  runMs: number;
  /** keel stop or shutdown asked for this exit: it is never restarted. */
  stopRequested: boolean;
}

/** The delay before the restart that follows `failures` failed runs in a row (at least one). */
export function backoffDelay(cfg: BackoffConfig, failures: number, random: () => number): number {
  // factor ** n overflows to Infinity after about a thousand failures, and 0 * Infinity is NaN: no growth on a 0 ms start.
  const growth = cfg.factor ** Math.max(0, failures - 1);
  const base = cfg.initial === 0 ? 0 : Math.min(cfg.max, cfg.initial * growth);
  const spread = base * cfg.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}

/** The start limit as an operator reads it. */
export function startLimitText(limit: StartLimitConfig): string {
  return `start limit reached: ${limit.burst} starts within ${limit.interval} ms`;
}

/** Why the start limit forbids a start at `now` (monotonic ms), or undefined when it allows it. */
export function startRefusal(limit: StartLimitConfig, starts: RecentStarts, now: number): string | undefined {
  return starts.countWithin(now, limit.interval) >= limit.burst ? startLimitText(limit) : undefined;
}

/** What follows an exit at `now` (monotonic ms), and the history after it. */
export function afterExit(cfg: PolicyConfig, exit: ExitFacts, history: RestartHistory, starts: RecentStarts, now: number, random: () => number = Math.random): { decision: Decision; history: RestartHistory } {
  if (exit.stopRequested) return { decision: { next: 'stopped', reason: 'stopped on request' }, history };
  const failed = isFailure(exit.outcome);
  const stable = exit.runMs >= cfg.backoff.resetAfter;
  const failures = (stable ? 0 : history.failures) + (failed ? 1 : 0);
  const seen = { ...history, failures };
  const p = cfg.restart;
  const policyText = p.policy === 'on-failure' && p.maxRetries !== undefined ? `on-failure:${p.maxRetries}` : p.policy;
  if (!RESTART_TABLE[p.policy][failed ? 'failed' : 'succeeded']) {
    return { decision: { next: failed ? 'failed' : 'completed', reason: `restart: ${policyText}` }, history: seen };
  }
  if (p.policy === 'on-failure' && p.maxRetries !== undefined && history.restarts >= p.maxRetries) {
    return { decision: { next: 'failed', reason: `gave up after ${p.maxRetries} restart(s) (on-failure:${p.maxRetries})` }, history: seen };
  }
  const delayMs = backoffDelay(cfg.backoff, Math.max(1, failures), random);
  // The start limit looks at the moment the restart would happen.
  if (startRefusal(cfg.startLimit, starts, now + delayMs) !== undefined) {
    return { decision: { next: 'failed', reason: startLimitText(cfg.startLimit), startLimit: true }, history: seen };
  }
  return { decision: { next: 'backoff', delayMs, reason: `restart in ${delayMs} ms` }, history: { ...seen, restarts: history.restarts + 1 } };
}

// The probe's schedule after a check that timed out. A stand-in exec and clock:
// a runc exec that times out and leaves its `runc init` behind happens only
// under heavy emulation load, which a test cannot bring about on demand.
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../runtime/engine.js';
import type { Clock } from './clock.js';
import { Probe } from './probe.js';

const result = (code: number, timedOut = false): ExecResult => ({ code, signal: null, stdout: '', stderr: '', timedOut });

/** Runs three checks of a probe with these answers on a clock that only records: the waits between them, and what the probe said. */
async function threeChecks(interval: number, answers: ExecResult[]): Promise<{ waits: number[]; events: string[] }> {
  const waits: number[] = [];
  let next: (() => void) | undefined;
  const clock: Clock = { now: () => 0, monotonic: () => 0, after: (ms, fn) => (waits.push(ms), (next = fn), () => undefined) };
  const events: string[] = [];
  const probe = new Probe({ exec: ['true'], interval, timeout: 5000, retries: 3, startPeriod: 0 }, async () => answers.shift()!, { ready: () => events.push('ready'), health: () => undefined }, clock);
  probe.start();
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    if (i < 2) next!();
  }
  probe.stop();
  return { waits, events };
}

describe('an exec probe', () => {
  it('waits its timeout, not only its interval, after a check that timed out, and its interval again after one that did not', async () => {
    const { waits, events } = await threeChecks(500, [result(1, true), result(1), result(0)]);
    expect(waits).toEqual([5000, 500, 500]);
    expect(events).toEqual(['ready']);
  });

  it('leaves at least 100 ms between checks when its interval is 0, so a check that fails at once does not spin', async () => {
    const { waits, events } = await threeChecks(0, [result(127), result(127), result(127)]);
    expect(waits).toEqual([100, 100, 100]);
    expect(events).toEqual([]);
  });
});

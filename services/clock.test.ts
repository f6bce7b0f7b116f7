// The system clock's timers: a delay past what one Node timer takes
// (2^31-1 ms, about 24.8 days) waits its whole length instead of firing at once.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from './clock.js';

afterEach(() => vi.useRealTimers());

describe('system clock', () => {
  it('waits 600 hours when asked to, not 1 ms', () => {
    vi.useFakeTimers();
    let fired = false;
    systemClock.after(600 * 3_600_000, () => (fired = true));
    vi.advanceTimersByTime(10);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(2 ** 31);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(600 * 3_600_000 - 2 ** 31 - 10);
    expect(fired).toBe(true);
  });

  it('runs a 0 ms wait in this turn of the loop, before a 1 ms timer, and can cancel it', async () => {
    const order: string[] = [];
    setTimeout(() => order.push('1 ms timer'), 1);
    systemClock.after(0, () => order.push('now'));
    systemClock.after(-5, () => order.push('overdue'));
    const cancel = systemClock.after(0, () => order.push('cancelled'));
    cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['now', 'overdue', '1 ms timer']);
  });

  it('can be cancelled, even between the timers that make up a long wait', () => {
    vi.useFakeTimers();
    let fired = false;
    const cancel = systemClock.after(2 ** 32, () => (fired = true));
    vi.advanceTimersByTime(2 ** 31 + 5);
    cancel();
    vi.advanceTimersByTime(2 ** 32);
    expect(fired).toBe(false);
  });
});

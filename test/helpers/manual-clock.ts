// A clock the test moves by hand: timers fire when advance() passes their
// time, in order, with promise callbacks let run between them.
import type { Clock } from '../../services/clock.js';

/** Lets every pending promise callback (and what they schedule) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
}

export class ManualClock implements Clock {
  /** Monotonic time, which timers go by. */
  private t: number;
  /** How far the wall clock is from it (moved by step()). */
  private wallOffset = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t + this.wallOffset;
  }

  monotonic(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return () => this.timers.delete(id);
  }

  /** Timers still waiting, as delays from now. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }

  /** Sets the wall clock by `ms` (back when negative), as settimeofday does: monotonic time and the timers do not move. */
  step(ms: number): void {
    this.wallOffset += ms;
  }

  /** Moves time forward by `ms`, firing each timer that comes due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

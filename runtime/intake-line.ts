// The shared intake budget (output-pacer.ts), with its waiters served in
// turn. When every stream that found the budget spent set a timer of its
// own, all woke together once it had refilled, and whichever ran first took
// it: beside 20 services writing as fast as they could, a quiet service's
// single line waited 0.5 s on average and up to 6 s. Now a stream that finds
// the budget spent, or others already waiting for it, joins the end of one
// line, and while the budget lasts the line's head is woken, one stream a
// turn of the event loop; a stream with more to take joins the end again
// after its slice. So a quiet stream waits at most one slice of each busy one.
import { Allowance } from './allowance.js';

export class IntakeLine {
  private readonly budget: Allowance;
  private readonly line: Array<() => void> = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(msPerSecond: number) {
    this.budget = new Allowance(msPerSecond);
  }

  /** Charges `ms` of work. */
  spend(ms: number): void {
    this.budget.spend(ms);
  }

  /** Whether a stream may take a slice now: the budget is not overdrawn and no one waits before it. */
  mayGo(): boolean {
    return this.line.length === 0 && this.budget.waitMs() === 0;
  }

  /** Joins the end of the line; `wake` is called at its turn. Returns a function that leaves the line. */
  join(wake: () => void): () => void {
    this.line.push(wake);
    this.arm();
    return () => {
      const at = this.line.indexOf(wake);
      if (at >= 0) this.line.splice(at, 1);
    };
  }

  private arm(): void {
    if (this.timer !== undefined || this.line.length === 0) return;
    const ms = this.budget.waitMs();
    const serve = () => {
      this.timer = undefined;
      this.serve();
    };
    this.timer = ms > 0 ? setTimeout(serve, ms) : setImmediate(serve);
  }

  /** Wakes the head of the line (which spends as it takes its slice), then the next in a later turn of the event loop. */
  private serve(): void {
    try {
      if (this.budget.waitMs() === 0) this.line.shift()?.();
    } finally {
      // Even when a slice's handling threw: the rest of the line must still be served.
      this.arm();
    }
  }
}

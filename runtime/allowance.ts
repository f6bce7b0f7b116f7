// A budget of something per second (bytes, lines, milliseconds of work), as
// the output pacer and the shared intake line spend it.

/** A budget refilled at `perSecond`, holding at most one second's worth; spending may overdraw it. */
export class Allowance {
  private level: number;
  private last = performance.now();

  constructor(private readonly perSecond: number) {
    this.level = perSecond;
  }

  spend(n: number): void {
    this.refill();
    this.level -= n;
  }

  /** How long until it is no longer overdrawn (0 when it is not). */
  waitMs(): number {
    this.refill();
    return this.level >= 0 ? 0 : Math.ceil((-this.level / this.perSecond) * 1000);
  }

  private refill(): void {
    const now = performance.now();
    this.level = Math.min(this.perSecond, this.level + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }
}

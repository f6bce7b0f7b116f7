// Restart timing: exponential backoff with jitter, and systemd-style start limits.

export interface BackoffConfig {
  initial: number;
  factor: number;
  max: number;
  jitter: number;
  resetAfter: number;
}

/** The delay before restart number `failures` (1 = the first restart after a failure run). */
export function backoffDelay(cfg: BackoffConfig, failures: number, random: () => number = Math.random): number {
  const base = Math.min(cfg.max, cfg.initial * cfg.factor ** Math.max(0, failures - 1));
  const spread = base * cfg.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}

/** At most `burst` starts within any `interval` ms. */
export class StartLimit {
  private readonly starts: number[] = [];

  constructor(
    private readonly burst: number,
    private readonly interval: number,
  ) {}

  /** Records a start at `now` if the limit allows it; false means the limit is reached. */
  tryStart(now: number): boolean {
    while (this.starts.length > 0 && now - this.starts[0]! >= this.interval) this.starts.shift();
    if (this.starts.length >= this.burst) return false;
    this.starts.push(now);
    return true;
  }

  reset(): void {
    this.starts.length = 0;
  }
}

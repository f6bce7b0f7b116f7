// When a service's recent starts happened, for its start limit (burst starts
// within an interval). Kept in place rather than copied per start: a limit of
// {burst: 10000000, interval: 1h} with no backoff holds some hundred thousand
// starts, and filtering and copying them at every restart slowed a crash loop
// from 454 to 197 restarts a second as the window filled. Only the newest
// `burst` starts can decide, and nothing older than the interval, so no more
// are kept. Times are monotonic (a wall clock stepped back would put starts
// in the future and hold a service at its limit), so they are in order.

export class StartWindow {
  private times: number[] = [];
  /** The first kept entry of `times`: those before it are dropped, and cut off in bulk now and then. */
  private head = 0;

  /** How many starts were less than `interval` ms before `at`. */
  countWithin(at: number, interval: number): number {
    // The first kept start inside the window, by bisection: the times are ascending.
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at - this.times[mid]! < interval) hi = mid;
      else lo = mid + 1;
    }
    return this.times.length - lo;
  }

  /** Records a start at `at`, keeping only what a limit of `burst` in `interval` can still ask about. */
  record(at: number, burst: number, interval: number): void {
    this.times.push(at);
    while (this.head < this.times.length && (this.times.length - this.head > burst || at - this.times[this.head]! >= interval)) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  /** The kept starts, oldest first. */
  list(): number[] {
    return this.times.slice(this.head);
  }

  clear(): void {
    this.times = [];
    this.head = 0;
  }
}

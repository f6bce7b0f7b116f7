// The order in which one end of the control channel writes its frames. A
// single queue in arrival order let a connection with a megabyte to send hold
// back every other connection's answer behind it. Each connection now has a
// queue of its own, and the writer takes one frame from each in turn (a frame
// is at most 32 KiB); CREDIT and RESET frames go ahead of all data, since they
// are what lets the other end go on.

export class FrameScheduler {
  private readonly urgent: Buffer[] = [];
  /** In turn order: the connection whose frame went last is moved to the end. */
  private readonly byConnection = new Map<number, Buffer[]>();
  private writing = false;
  private idleWaiters: Array<() => void> = [];
  /** Bytes queued and not yet written. */
  queued = 0;
  /** When a frame was last queued (performance.now()): how long the writer has had nothing new. */
  lastQueuedAt = -Infinity;

  constructor(
    private readonly write: (frame: Buffer) => Promise<void>,
    private readonly written: (bytes: number) => void = () => undefined,
  ) {}

  /** A frame that goes before any connection's data. */
  pushUrgent(frame: Buffer): void {
    this.urgent.push(frame);
    this.added(frame.length);
  }

  /** Frames of one connection, kept in their order. */
  push(id: number, ...frames: Buffer[]): void {
    let q = this.byConnection.get(id);
    if (!q) this.byConnection.set(id, (q = []));
    q.push(...frames);
    this.added(frames.reduce((n, f) => n + f.length, 0));
  }

  /** Forgets everything not yet written (the other end is gone or was reset). */
  clear(): void {
    this.urgent.length = 0;
    this.byConnection.clear();
    this.queued = 0;
  }

  /** Resolves once nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private added(bytes: number): void {
    this.queued += bytes;
    this.lastQueuedAt = performance.now();
    if (!this.writing) void this.run();
  }

  private next(): Buffer | undefined {
    const u = this.urgent.shift();
    if (u) return u;
    const first = this.byConnection.entries().next();
    if (first.done) return undefined;
    const [id, q] = first.value;
    const frame = q.shift();
    this.byConnection.delete(id);
    if (q.length > 0) this.byConnection.set(id, q);
    return frame;
  }

  private async run(): Promise<void> {
    this.writing = true;
    try {
      for (let frame = this.next(); frame; frame = this.next()) {
        try {
          await this.write(frame);
        } catch {
          // The write function says its own errors; the next frame is still tried (the stream may be back).
        } finally {
          this.queued = Math.max(0, this.queued - frame.length);
          this.written(frame.length);
        }
      }
    } finally {
      this.writing = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}

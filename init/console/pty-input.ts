// Writing a program's terminal input: keel's own writer for the master side
// of a node-pty terminal. node-pty's writer retries a write the terminal
// refuses (EAGAIN: the program is not reading and the pty is full) on every
// turn of the event loop, which kept PID 1 on most of a CPU core for as long
// as the program did not read, and it prints "Unhandled pty write error" onto
// the console when input is left over at a program's exit. This one writes
// through its own duplicate of the master fd, waits a little longer each time
// the terminal refuses, and drops what is left without a word once the
// program is gone.
import { closeSync, writeSync } from 'node:fs';
import { sys } from '../core/sys.js';

export interface PtyInput {
  /** Queues bytes for the terminal (a string as UTF-8; a Buffer as it is, not copied) and writes at once what it takes. */
  write(data: string | Buffer): void;
  /** Bytes written that the terminal has not taken yet. */
  queued(): number;
  /** Calls `cb` once queued() is at or under `mark` (on a later tick if it already is); the function returned cancels. */
  whenUnder(mark: number, cb: () => void): () => void;
  /** Drops what is queued (waiters are told: nothing is) and writes nothing more: the program has exited. */
  close(): void;
}

/** What is used of node-pty's terminal. */
export interface PtyWritable {
  write(data: string | Buffer): void;
  /**
   * node-pty's UnixTerminal's master fd: private to it, read here and nowhere
   * else. Absent (another node-pty, or none of keel's addon), the input goes
   * through node-pty's own writer, as before.
   */
  _fd?: unknown;
  /** node-pty 1.x's own queue of writes the terminal has not taken: read only by that fallback. */
  _writeStream?: { _writeQueue?: ReadonlyArray<{ buffer: Buffer; offset: number }> };
}

/** The wait after a refused write: the first, and the most it grows to while the program goes on not reading. */
const FIRST_RETRY_MS = 2;
const LAST_RETRY_MS = 50;

/** The terminal's input: through keel's own descriptor where it can have one, else through node-pty. */
export function ptyInput(pty: PtyWritable): PtyInput {
  const fd = ownDuplicate(pty._fd);
  return fd === undefined ? new NodePtyInput(pty) : new FdInput(fd);
}

function ownDuplicate(fd: unknown): number | undefined {
  if (typeof fd !== 'number') return undefined;
  try {
    return sys().dupNonBlocking(fd);
  } catch {
    return undefined; // no addon, or one from before dupNonBlocking
  }
}

type Waiter = { mark: number; cb: () => void };

/** Callbacks waiting for a queue to fall to their mark. */
class Waiters {
  private readonly list = new Set<Waiter>();

  add(mark: number, cb: () => void, queued: () => number): () => void {
    const w = { mark, cb };
    this.list.add(w);
    if (queued() <= mark) queueMicrotask(() => this.tell(queued()));
    return () => void this.list.delete(w);
  }

  get empty(): boolean {
    return this.list.size === 0;
  }

  tell(queued: number): void {
    for (const w of this.list) {
      if (queued > w.mark) continue;
      this.list.delete(w);
      w.cb();
    }
  }
}

/**
 * Writes to a non-blocking duplicate of the master fd (the addon makes sure
 * of O_NONBLOCK, which node-pty's fd shares), synchronously: a write
 * takes what fits and never waits. Writing to it after node-pty closed its
 * own fd still reaches this terminal (or fails), never another file.
 */
class FdInput implements PtyInput {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private retryMs = FIRST_RETRY_MS;
  private retry: NodeJS.Timeout | undefined;
  private readonly waiters = new Waiters();

  constructor(private fd: number | undefined) {}

  write(data: string | Buffer): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.fd === undefined || b.length === 0) return;
    this.chunks.push(b);
    this.bytes += b.length;
    // A keystroke goes at once; behind refused input it waits its turn.
    if (!this.retry) this.flush();
  }

  queued(): number {
    return this.bytes;
  }

  whenUnder(mark: number, cb: () => void): () => void {
    return this.waiters.add(mark, cb, () => this.bytes);
  }

  close(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    try {
      if (this.fd !== undefined) closeSync(this.fd);
    } catch {
      /* nothing to do about it */
    }
    this.fd = undefined;
    this.chunks = [];
    this.bytes = 0;
    this.waiters.tell(0);
  }

  private flush(): void {
    this.retry = undefined;
    const before = this.bytes;
    while (this.fd !== undefined && this.chunks.length > 0) {
      const written = this.writeHead(this.fd);
      if (written === undefined) return this.close(); // EIO, EBADF: the program is gone, and its input with it
      if (written === 0) break;
      this.bytes -= written;
      const head = this.chunks[0]!;
      if (written < head.length) this.chunks[0] = head.subarray(written);
      else this.chunks.shift();
    }
    // Refused: try again soon if the program took some just now, later and later while it takes none.
    if (this.bytes < before) this.retryMs = FIRST_RETRY_MS;
    if (this.chunks.length > 0) {
      this.retry = setTimeout(() => this.flush(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
    }
    if (this.bytes < before) this.waiters.tell(this.bytes);
  }

  /** Bytes of the first chunk the terminal took: 0 when it is full, undefined when it is gone. */
  private writeHead(fd: number): number | undefined {
    try {
      return writeSync(fd, this.chunks[0]!);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'EAGAIN' || code === 'EINTR' ? 0 : undefined;
    }
  }
}

const POLL_MS = 20;

/** node-pty's own writer, whose queue says nothing when it empties: looked at every POLL_MS while someone waits. */
class NodePtyInput implements PtyInput {
  private readonly waiters = new Waiters();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly pty: PtyWritable) {}

  write(data: string | Buffer): void {
    if (this.closed) return;
    try {
      this.pty.write(data);
    } catch {
      /* the program has just exited */
    }
  }

  queued(): number {
    if (this.closed) return 0;
    return (this.pty._writeStream?._writeQueue ?? []).reduce((n, t) => n + t.buffer.byteLength - t.offset, 0);
  }

  whenUnder(mark: number, cb: () => void): () => void {
    const cancel = this.waiters.add(mark, cb, () => this.queued());
    this.poll ??= setInterval(() => {
      this.waiters.tell(this.queued());
      if (!this.waiters.empty) return;
      clearInterval(this.poll);
      this.poll = undefined;
    }, POLL_MS);
    return cancel;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    this.waiters.tell(0);
  }
}

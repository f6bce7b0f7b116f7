// A service's log in memory: the newest lines up to a line and a byte limit,
// each tagged with the attempt (start number) that wrote it, with followers
// for `keel logs -f`. Optionally mirrored to a file that rotates by size.
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LogLine {
  /** Milliseconds since the epoch. */
  time: number;
  stream: 'stdout' | 'stderr';
  attempt: number;
  line: string;
  /** This piece carries on the line before it, which was cut at its length limit. */
  continued?: boolean;
}

/** A line as the log file and `keel logs` print it; a continued piece is marked "stdout+". */
export function logLineText(l: LogLine): string {
  return `${new Date(l.time).toISOString()} ${l.stream}${l.continued ? '+' : ''} #${l.attempt} ${l.line}\n`;
}

export type LogFollower = (line: LogLine) => void;

/** What a line costs the ring: its text in UTF-8 and a newline. */
const lineBytes = (l: LogLine) => Buffer.byteLength(l.line) + 1;

export class LogRing {
  private readonly lines: LogLine[] = [];
  private head = 0;
  private bytes = 0;
  private readonly followers = new Set<LogFollower>();
  /** Lines dropped at the front because the ring was full. */
  dropped = 0;

  constructor(
    private readonly maxLines: number,
    private readonly maxBytes: number,
    private readonly file?: RotatingFile,
  ) {}

  push(entry: LogLine): void {
    this.lines.push(entry);
    this.bytes += lineBytes(entry);
    while (this.lines.length - this.head > this.maxLines || (this.bytes > this.maxBytes && this.lines.length - this.head > 1)) {
      this.bytes -= lineBytes(this.lines[this.head]!);
      this.head++;
      this.dropped++;
    }
    // Compact now and then, so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines.splice(0, this.head);
      this.head = 0;
    }
    this.file?.write(logLineText(entry));
    for (const f of this.followers) {
      try {
        f(entry);
      } catch {
        /* a follower's failure is its own */
      }
    }
  }

  /** Kept lines, oldest first; `attempt` keeps only that attempt's, `tail` only the last N. */
  read(opts: { attempt?: number; tail?: number } = {}): LogLine[] {
    let out = this.lines.slice(this.head);
    if (opts.attempt !== undefined) out = out.filter((l) => l.attempt === opts.attempt);
    if (opts.tail !== undefined) out = out.slice(Math.max(0, out.length - opts.tail));
    return out;
  }

  follow(f: LogFollower): () => void {
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  close(): void {
    this.file?.close();
  }
}

/** Batched files with records queued: written out if the process exits before their turn ends. */
const QUEUED = new Set<RotatingFile>();
process.once('exit', () => {
  for (const f of [...QUEUED]) f.flush();
});

/** A log file that is renamed to NAME.1 (NAME.1 to NAME.2, …) when it reaches maxSize. */
export class RotatingFile {
  private fd: number | undefined;
  private closed = false;
  private size = 0;
  private queued: string[] = [];

  constructor(
    readonly path: string,
    private readonly maxSize: number,
    private readonly keep: number,
    private readonly batched = false,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.open();
  }

  private open(): void {
    // Private: a service's output can hold its secrets.
    this.fd = openSync(this.path, 'a', 0o600);
    fchmodSync(this.fd, 0o600); // a file from an earlier run may have been made with another mode
    this.size = existsSync(this.path) ? statSync(this.path).size : 0;
  }

  /**
   * Writes a record: at once, or when `batched`, queued with the others of
   * this turn of keel's work (the lines of one slice of a service's output,
   * up to a thousand) and written together once it is done, before anything
   * else runs: one write instead of one each, which under a flood of short
   * lines is most of what a line costs. A process exit writes what is queued.
   */
  write(text: string): void {
    if (this.closed) return;
    this.queued.push(text);
    if (!this.batched) return this.flush();
    if (this.queued.length > 1) return;
    queueMicrotask(() => this.flush());
    QUEUED.add(this);
  }

  /** Writes what is queued, rotating where a record would take the file past maxSize. */
  flush(): void {
    QUEUED.delete(this);
    const records = this.queued;
    this.queued = [];
    let batch = '';
    let batchSize = 0;
    for (const text of records) {
      const len = Buffer.byteLength(text);
      if (this.size + batchSize > 0 && this.size + batchSize + len > this.maxSize) {
        this.append(batch, batchSize);
        batch = '';
        batchSize = 0;
        this.rotateSafely();
      }
      batch += text;
      batchSize += len;
    }
    this.append(batch, batchSize);
  }

  private append(text: string, len: number): void {
    if (len === 0) return;
    try {
      if (this.fd === undefined) this.open(); // it could not be opened before (a full disk): try again
      writeSync(this.fd!, text);
      this.size += len;
    } catch {
      /* a full disk loses the file copy; the ring keeps the line */
    }
  }

  private rotateSafely(): void {
    try {
      this.rotate();
    } catch {
      /* as above */
    }
  }

  private rotate(): void {
    this.closeFd();
    try {
      if (this.keep === 0) rmSync(this.path, { force: true });
      else {
        rmSync(`${this.path}.${this.keep}`, { force: true });
        for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        renameSync(this.path, `${this.path}.1`);
      }
    } finally {
      // Whatever the renames did, writing goes on into the file at its path.
      this.open();
    }
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.closeFd();
  }
}

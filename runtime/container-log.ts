// A container's stdout and stderr, line by line (line-splitter.ts: bounded
// lines, linear time), into its log file: each line timestamped and tagged
// with its stream, written synchronously so nothing is lost if keel must
// stop, and the last line kept even without a final newline. Every line also
// goes to the listener (the console, a log ring).
import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { LineListener, StreamName } from './engine.js';
import { LineSplitter } from './line-splitter.js';

/** The most a container's stream is read per second; a faster writer waits on its full pipe. */
export const MAX_READ_BYTES_PER_SECOND = 2 ** 20;

/**
 * Reads a stream no faster than MAX_READ_BYTES_PER_SECOND: past it, the
 * stream pauses until the second is over. A container that floods its output
 * then blocks on its own pipe, instead of keel-init spending its CPU and its
 * memory on output nobody can read at that speed.
 */
class ReadRate {
  private windowStart = Date.now();
  private bytes = 0;

  constructor(private readonly stream: Readable) {}

  took(n: number): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.bytes = 0;
    }
    this.bytes += n;
    if (this.bytes < MAX_READ_BYTES_PER_SECOND) return;
    this.stream.pause();
    setTimeout(() => {
      this.windowStart = Date.now();
      this.bytes = 0;
      if (!this.stream.destroyed) this.stream.resume();
    }, 1000 - (now - this.windowStart)).unref();
  }
}

export class ContainerLog {
  private fd: number | undefined;
  private readonly open = new Set<Readable>();

  /** @param path the log file, or undefined when the listener keeps the lines (a service's ring) */
  constructor(
    readonly path: string | undefined,
    private readonly onLine?: LineListener,
  ) {
    if (path !== undefined) {
      // Private: a container's output can hold its secrets.
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      this.fd = openSync(path, 'a', 0o600);
      fchmodSync(this.fd, 0o600); // a file from an earlier run may have been made with another mode
    }
  }

  /** Reads `stream` to its end; resolves when it ends or is destroyed. */
  attach(stream: Readable, name: StreamName): Promise<void> {
    const lines = new LineSplitter((line, continued) => this.push(name, line, continued));
    this.open.add(stream);
    return new Promise((resolve) => {
      if (stream.readableEnded || stream.destroyed) {
        this.open.delete(stream);
        return resolve();
      }
      const flush = () => {
        lines.end();
        this.open.delete(stream);
        resolve();
      };
      const rate = new ReadRate(stream);
      stream.on('data', (chunk: Buffer) => {
        lines.write(chunk);
        rate.took(chunk.length);
      });
      stream.once('end', flush);
      stream.once('close', () => this.open.has(stream) && flush());
      stream.once('error', () => this.open.has(stream) && flush());
    });
  }

  /** Stops reading streams still held open (by a process that outlived the container's init). */
  detach(): void {
    for (const s of this.open) s.destroy();
  }

  private push(stream: StreamName, line: string, continued: boolean): void {
    if (this.fd !== undefined) {
      try {
        // A piece that continues a cut line is marked in the stream column: "stdout+".
        writeSync(this.fd, `${new Date().toISOString()} ${stream}${continued ? '+' : ''} ${line}\n`);
      } catch {
        /* a full disk loses the file copy, not the line the listener gets */
      }
    }
    this.onLine?.(stream, line, continued);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

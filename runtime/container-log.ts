// A container's stdout and stderr, line by line (line-splitter.ts: bounded
// lines, linear time), taken in at a bounded pace (output-pacer.ts), into its
// log file: each line timestamped and tagged with its stream, the lines of
// each slice written synchronously in one write so nothing is lost if keel
// must stop, and the last line kept even without a final newline. Every line
// also goes to the listener (the console, a log ring).
import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { LineListener, StreamName } from './engine.js';
import { LineSplitter } from './line-splitter.js';
import { OutputPacer } from './output-pacer.js';

export class ContainerLog {
  private fd: number | undefined;
  /** The streams still being read, each with its pacer. */
  private readonly open = new Map<Readable, OutputPacer>();
  /** The log file's records of the slice being handled, written together when it is done. */
  private records: string[] = [];

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
    return new Promise((resolve) => {
      if (stream.readableEnded || stream.destroyed) return resolve();
      const pacer = new OutputPacer(stream, (slice) => {
        lines.write(slice);
        this.writeRecords();
      });
      this.open.set(stream, pacer);
      const flush = () => {
        pacer.finish();
        lines.end();
        this.writeRecords();
        this.open.delete(stream);
        resolve();
      };
      stream.once('end', flush);
      stream.once('close', () => this.open.has(stream) && flush());
      stream.once('error', () => this.open.has(stream) && flush());
    });
  }

  /** The container's init has exited: what it wrote is read now, not at the budgets' pace (output-pacer.ts). */
  writerExited(): void {
    for (const pacer of this.open.values()) pacer.drainFreely();
  }

  /** Stops reading streams still held open (by a process that outlived the container's init). */
  detach(): void {
    for (const s of this.open.keys()) s.destroy();
  }

  private push(stream: StreamName, line: string, continued: boolean): void {
    // A piece that continues a cut line is marked in the stream column: "stdout+".
    if (this.fd !== undefined) this.records.push(`${new Date().toISOString()} ${stream}${continued ? '+' : ''} ${line}\n`);
    this.onLine?.(stream, line, continued);
  }

  private writeRecords(): void {
    if (this.records.length === 0) return;
    const text = this.records.join('');
    this.records = [];
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, text);
    } catch {
      /* a full disk loses the file copy, not the lines the listener got */
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

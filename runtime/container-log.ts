// A container's stdout and stderr, line by line, into its log file: each line
// timestamped and tagged with its stream, written synchronously so nothing
// is lost if keel must stop, and the last line kept even without a final
// newline. Every line also goes to the listener (the console, a log ring).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { LineListener, StreamName } from './engine.js';

export class ContainerLog {
  private fd: number | undefined;
  private readonly open = new Set<Readable>();

  /** @param path the log file, or undefined when the listener keeps the lines (a service's ring) */
  constructor(
    readonly path: string | undefined,
    private readonly onLine?: LineListener,
  ) {
    if (path !== undefined) {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, 'a', 0o640);
    }
  }

  /** Reads `stream` to its end; resolves when it ends or is destroyed. */
  attach(stream: Readable, name: StreamName): Promise<void> {
    const decoder = new StringDecoder('utf8');
    let partial = '';
    this.open.add(stream);
    return new Promise((resolve) => {
      if (stream.readableEnded || stream.destroyed) {
        this.open.delete(stream);
        return resolve();
      }
      const flush = () => {
        partial += decoder.end();
        if (partial !== '') this.push(name, partial);
        partial = '';
        this.open.delete(stream);
        resolve();
      };
      stream.on('data', (chunk: Buffer) => {
        const text = partial + decoder.write(chunk);
        const parts = text.split('\n');
        partial = parts.pop()!;
        for (const line of parts) this.push(name, line);
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

  private push(stream: StreamName, line: string): void {
    if (this.fd !== undefined) {
      try {
        writeSync(this.fd, `${new Date().toISOString()} ${stream} ${line}\n`);
      } catch {
        /* a full disk loses the file copy, not the line the listener gets */
      }
    }
    this.onLine?.(stream, line);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

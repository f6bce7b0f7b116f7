// A push parser for tar streams: chunks of any size go in, and for each
// entry the visitor is told its header and, if it asks for them, its data,
// chunk by chunk, synchronously. Nothing is buffered beyond one header
// block and the data of an extension header, so a layer of any size
// streams through in constant memory.
import { BLOCK, HeaderReader, padding, TarFormatError, type TarEntry } from './tar-format.js';

export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

export interface TarVisitor {
  /** An entry's header; returns where its data goes (undefined: skip it). */
  entry(entry: TarEntry): EntrySink | undefined;
}

type State = { at: 'header' } | { at: 'data'; left: number; sink: EntrySink | undefined; pad: number } | { at: 'extension'; left: number; parts: Buffer[]; pad: number } | { at: 'skip'; left: number } | { at: 'end' };

export class TarParser {
  private readonly headers = new HeaderReader();
  private state: State = { at: 'header' };
  private readonly block = Buffer.alloc(BLOCK);
  private blockFill = 0;
  /** Bytes consumed so far, for messages. */
  private offset = 0;

  constructor(private readonly visitor: TarVisitor) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const s = this.state;
      if (s.at === 'end') return;
      if (s.at === 'header') {
        at = this.fillHeader(chunk, at);
        continue;
      }
      const take = Math.min(s.left, chunk.length - at);
      const part = chunk.subarray(at, at + take);
      at += take;
      this.offset += take;
      s.left -= take;
      if (s.at === 'data') {
        s.sink?.write(part);
        if (s.left === 0) {
          s.sink?.end();
          this.state = s.pad ? { at: 'skip', left: s.pad } : { at: 'header' };
        }
      } else if (s.at === 'extension') {
        s.parts.push(Buffer.from(part)); // the chunk may be reused by the stream
        if (s.left === 0) {
          this.headers.extension(Buffer.concat(s.parts));
          this.state = s.pad ? { at: 'skip', left: s.pad } : { at: 'header' };
        }
      } else if (s.left === 0) {
        this.state = { at: 'header' };
      }
    }
  }

  /** The stream ended: it must not end inside an entry. */
  end(): void {
    if (this.state.at === 'end' || (this.state.at === 'header' && this.blockFill === 0)) return;
    throw new TarFormatError(`the tar stream is truncated (it ends inside an entry, at byte ${this.offset})`);
  }

  private fillHeader(chunk: Buffer, at: number): number {
    let header: Buffer;
    if (this.blockFill === 0 && chunk.length - at >= BLOCK) {
      header = chunk.subarray(at, at + BLOCK);
      at += BLOCK;
    } else {
      const take = Math.min(BLOCK - this.blockFill, chunk.length - at);
      chunk.copy(this.block, this.blockFill, at, at + take);
      this.blockFill += take;
      at += take;
      if (this.blockFill < BLOCK) return at;
      header = this.block;
      this.blockFill = 0;
    }
    const offset = this.offset;
    this.offset += BLOCK;
    const r = this.headers.header(header, offset);
    if (r.kind === 'end') this.state = { at: 'end' };
    else if (r.kind === 'extension') this.state = { at: 'extension', left: r.size, parts: [], pad: padding(r.size) };
    else if (r.kind === 'skip') this.state = { at: 'skip', left: r.size + padding(r.size) };
    else {
      const sink = this.visitor.entry(r.entry);
      const size = r.entry.size;
      if (size > 0) this.state = { at: 'data', left: size, sink, pad: padding(size) };
      else sink?.end();
    }
    // A zero-length extension or skip leaves nothing to read.
    const s = this.state;
    if (s.at === 'extension' && s.left === 0) {
      this.headers.extension(Buffer.alloc(0));
      this.state = { at: 'header' };
    } else if (s.at === 'skip' && s.left === 0) this.state = { at: 'header' };
    return at;
  }
}

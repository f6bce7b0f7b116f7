// A byte stream cut into lines, in time linear in its length and in memory
// bounded by one line. A line longer than MAX_LINE (a writer that never sends
// a newline: `cat /dev/zero`, a progress bar redrawn with \r) is cut into
// pieces of MAX_LINE characters; each piece after the first is marked as
// continuing the one before, so no byte is lost and none is buffered without
// bound.
import { StringDecoder } from 'node:string_decoder';

/** The longest line keel keeps whole, in characters. */
export const MAX_LINE = 16 * 1024;

/** One line, or one piece of a line that was cut; `continued` says it carries on the piece before it. */
export type LineSink = (line: string, continued: boolean) => void;

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  /** The unfinished line: never longer than MAX_LINE. */
  private pending = '';
  /** The last piece emitted was cut: the next one continues it. */
  private continuing = false;

  constructor(
    private readonly sink: LineSink,
    private readonly max = MAX_LINE,
  ) {}

  write(chunk: Buffer): void {
    this.feed(this.decoder.write(chunk));
  }

  /** The end of the stream: a last line without a newline is kept. */
  end(): void {
    this.feed(this.decoder.end());
    if (this.pending !== '') this.emit(this.pending, false);
    this.pending = '';
  }

  private feed(text: string): void {
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const end = nl < 0 ? text.length : nl;
      let pos = from;
      // Each piece is cut as soon as the unfinished line passes the limit: nothing waits for a newline that may never come.
      while (this.pending.length + (end - pos) > this.max) {
        const take = this.max - this.pending.length;
        this.emit(this.pending + text.slice(pos, pos + take), true);
        this.pending = '';
        pos += take;
      }
      this.pending += text.slice(pos, end);
      if (nl < 0) return;
      this.emit(this.pending, false);
      this.pending = '';
      from = nl + 1;
    }
  }

  private emit(line: string, cut: boolean): void {
    const continued = this.continuing;
    this.continuing = cut;
    this.sink(line, continued);
  }
}

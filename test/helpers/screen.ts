// Reading a console like a person does: wait for the next thing to appear
// after what was already read, so an earlier line never satisfies a later wait.
export interface ScreenReader {
  /** Waits for `pattern` in what appeared since the last successful wait; returns the match. */
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  /** What appeared since the last successful wait. */
  unread(): string;
}

export function screenReader(screen: () => string): ScreenReader {
  let mark = 0;
  return {
    async waitFor(pattern, ms) {
      const end = Date.now() + ms;
      for (;;) {
        const seen = screen().slice(mark);
        const m = pattern.exec(seen);
        if (m) {
          mark += m.index + m[0].length;
          return m[0];
        }
        if (Date.now() > end) throw new Error(`the console never showed ${pattern}; since the last step it showed:\n${seen}`);
        // Re-read the console text the reader collects; nothing here waits for time to pass instead of output.
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    unread: () => screen().slice(mark),
  };
}

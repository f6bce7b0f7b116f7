// Progress lines for the long steps of keel build and keel run: redrawn in
// place on one line on a terminal, plain lines otherwise (CI logs stay
// readable), nothing with -q.
export interface Progress {
  /** What is happening now, with its counters (bytes, files): redrawn on a terminal, not shown elsewhere. */
  update(text: string): void;
  /** A step starting: redrawn on a terminal, a line of its own elsewhere. */
  step(text: string): void;
  /** A step done: a line that stays. */
  done(text: string): void;
  /** Erases the redrawn line, if one is shown, so what is printed next starts a line of its own. */
  clear(): void;
}

export function terminalProgress(out: NodeJS.WriteStream = process.stderr): Progress {
  const tty = out.isTTY === true;
  let last = 0;
  let shown = false;
  const draw = (text: string) => {
    out.write(`\r\x1b[K${text.slice(0, (out.columns ?? 80) - 1)}`);
    shown = true;
  };
  return {
    update(text) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return; // at most ten redraws a second
      last = now;
      draw(text);
    },
    step(text) {
      if (tty) draw(text);
      else out.write(`${text}\n`);
    },
    done(text) {
      out.write(`${tty && shown ? '\r\x1b[K' : ''}${text}\n`);
      shown = false;
    },
    clear() {
      if (tty && shown) out.write('\r\x1b[K');
      shown = false;
    },
  };
}

export const silentProgress: Progress = { update() {}, step() {}, done() {}, clear() {} };

/** The same progress with every line saying which part of the whole it is about ("image 2 of 5: …"). */
export function prefixed(progress: Progress, prefix: string): Progress {
  return {
    update: (text) => progress.update(`${prefix}: ${text}`),
    step: (text) => progress.step(`${prefix}: ${text}`),
    done: (text) => progress.done(`${prefix}: ${text}`),
    clear: () => progress.clear(),
  };
}

/** "12.3 MB" for a byte count, as download progress shows it. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

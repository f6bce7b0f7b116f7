// Progress lines for long build steps (pulls, exports): redrawn in place on
// a terminal, one line per finished step otherwise (CI logs stay readable).
export interface Progress {
  update(text: string): void;
  done(text: string): void;
}

export function terminalProgress(out: NodeJS.WriteStream = process.stderr): Progress {
  const tty = out.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return; // at most ten redraws a second
      last = now;
      out.write(`\r\x1b[K${text.slice(0, (out.columns ?? 80) - 1)}`);
      shown = true;
    },
    done(text) {
      out.write(`${tty && shown ? '\r\x1b[K' : ''}${text}\n`);
      shown = false;
    },
  };
}

export const silentProgress: Progress = { update() {}, done() {} };

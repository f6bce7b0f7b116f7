// qemu's serial console read from a stream, with waits that wake on new
// output rather than on a timer.
export interface Serial {
  text(): string;
  waitFor(pattern: RegExp, ms: number): Promise<void>;
}

export function serial(stream: NodeJS.ReadableStream): Serial {
  let text = '';
  const waiters = new Set<() => void>();
  stream.on('data', (d: Buffer) => {
    text += d.toString();
    for (const w of [...waiters]) w();
  });
  return {
    text: () => text,
    waitFor(pattern: RegExp, ms: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(text)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`the console never showed ${pattern} in ${ms} ms:\n${text}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

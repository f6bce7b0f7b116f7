// The pacer between a container's output and keel-init's line handling: a
// flood of short lines is taken in slices, with the event loop's other work
// between them, no faster than the budget, and with every byte handed on in
// order. A PassThrough stands in for the container's pipe (pause and resume
// behave as on a socket).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IntakeLine } from './intake-line.js';
import { firstLines, OutputPacer } from './output-pacer.js';

const newlines = (buf: Buffer) => buf.reduce((n, b) => n + (b === 0x0a ? 1 : 0), 0);

/** Resolves once `done` holds, checked every 10 ms. The stream is not ended: a PassThrough ends even while paused, a socket does not. */
function until(done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (done() ? resolve() : setTimeout(check, 10));
    check();
  });
}

describe('firstLines', () => {
  it('cuts after the Nth newline, or keeps all of a buffer with fewer', () => {
    expect(firstLines(Buffer.from('a\nb\nc\n'), 2)).toEqual({ head: Buffer.from('a\nb\n'), lines: 2 });
    expect(firstLines(Buffer.from('a\nbc'), 5)).toEqual({ head: Buffer.from('a\nbc'), lines: 1 });
    expect(firstLines(Buffer.from('no newline'), 1)).toEqual({ head: Buffer.from('no newline'), lines: 0 });
  });
});

describe('OutputPacer', () => {
  it('takes a flood of empty lines a slice at a time, within the lines budget, letting the event loop run between slices', async () => {
    const stream = new PassThrough();
    const slices: Buffer[] = [];
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const since = performance.now();
    new OutputPacer(stream, (s) => slices.push(s), { bytesPerSecond: 2 ** 30, linesPerSecond: 2000, linesPerTurn: 100 });
    stream.write(Buffer.alloc(5000, '\n'));
    await until(() => Buffer.concat(slices).length === 5000);
    ticking = false;
    const elapsed = performance.now() - since;
    expect(Buffer.concat(slices)).toEqual(Buffer.alloc(5000, '\n'));
    expect(Math.max(...slices.map(newlines))).toBeLessThanOrEqual(100);
    // One second's worth (2000) at once, the other 3000 at 2000 a second.
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(turns).toBeGreaterThanOrEqual(50);
  });

  it('keeps to the bytes budget for output without newlines', async () => {
    const stream = new PassThrough();
    let taken = 0;
    const since = performance.now();
    new OutputPacer(stream, (s) => (taken += s.length), { bytesPerSecond: 100_000, linesPerSecond: 1e9, linesPerTurn: 1000 });
    for (let i = 0; i < 25; i++) stream.write(Buffer.alloc(10_000, 'x'));
    await until(() => taken === 250_000);
    expect(performance.now() - since).toBeGreaterThanOrEqual(1400);
  });

  it('hands on what it holds back at once when the stream is done', () => {
    const stream = new PassThrough();
    const slices: Buffer[] = [];
    const pacer = new OutputPacer(stream, (s) => slices.push(s), { bytesPerSecond: 2 ** 30, linesPerSecond: 4, linesPerTurn: 5 });
    stream.write(Buffer.from('1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n'));
    // PassThrough delivers on the next tick; the first 5 lines are handed on then, the rest wait for budget.
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        expect(slices.map(newlines)).toEqual([5]);
        pacer.finish();
        expect(Buffer.concat(slices).toString()).toBe('1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n');
        resolve();
      }, 50),
    );
  });

  it('shares one budget of time among streams: four writers together get no more of it than one would', async () => {
    // Each slice costs 5 ms of busy work; the streams' own budgets are out of reach, the shared 100 ms a second is not.
    const shared = new IntakeLine(100);
    const busy = () => {
      const end = performance.now() + 5;
      while (performance.now() < end);
    };
    // The budget counts CPU time (a busy host deschedules the loop, which then takes longer than 5 ms of it), so
    // that is what is added up here.
    let busyMs = 0;
    const streams = Array.from({ length: 4 }, () => new PassThrough());
    const taken = streams.map(() => 0);
    streams.forEach((stream, i) =>
      new OutputPacer(stream, (s) => {
        const before = process.cpuUsage();
        busy();
        const used = process.cpuUsage(before);
        busyMs += (used.user + used.system) / 1000;
        taken[i] = (taken[i] ?? 0) + s.length;
      }, { bytesPerSecond: 2 ** 30, linesPerSecond: 1e9, linesPerTurn: 1, shared }),
    );
    const since = performance.now();
    for (const stream of streams) for (let j = 0; j < 400; j++) stream.write('line\n');
    await new Promise((r) => setTimeout(r, 1000));
    const elapsedS = (performance.now() - since) / 1000;
    // A second's worth held at the start, then 100 ms a second, and one slice past the budget per stream at most.
    expect(busyMs).toBeLessThanOrEqual(100 + 100 * elapsedS + 4 * 6);
    // Each stream had its turns: the budget is not taken by the first one alone.
    for (const n of taken) expect(n).toBeGreaterThan(0);
  });

  it('serves streams waiting for the shared budget in turn: a quiet line beside 20 busy streams waits about one slice of each', async () => {
    // Each slice costs 5 ms; the budget is 100 ms a second, so one slice of each busy stream is about a second of it.
    const shared = new IntakeLine(100);
    const busy = () => {
      const end = performance.now() + 5;
      while (performance.now() < end);
    };
    const limits = { bytesPerSecond: 2 ** 30, linesPerSecond: 1e9, linesPerTurn: 1, shared };
    const streams = Array.from({ length: 20 }, () => new PassThrough());
    for (const stream of streams) {
      new OutputPacer(stream, busy, limits);
      for (let j = 0; j < 2000; j++) stream.write('line\n');
    }
    const quiet = new PassThrough();
    const arrived: number[] = [];
    new OutputPacer(quiet, () => arrived.push(performance.now()), limits);
    await new Promise((r) => setTimeout(r, 1500)); // the first second's budget spent; the busy streams in line
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const sent = performance.now();
      quiet.write(`quiet ${i}\n`);
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (arrived.length > i) {
            clearInterval(poll);
            waits.push(arrived[i]! - sent);
            resolve();
          }
        }, 5);
      });
    }
    console.log(`a quiet line's wait beside 20 busy streams: ${waits.map((w) => `${Math.round(w)} ms`).join(', ')}`);
    for (const w of waits) expect(w).toBeLessThan(1600);
    for (const stream of streams) stream.destroy();
  }, 30_000);

  it('goes on serving the line when one slice\'s handling throws', async () => {
    const shared = new IntakeLine(100);
    const limits = { bytesPerSecond: 2 ** 30, linesPerSecond: 1e9, linesPerTurn: 1, shared };
    const busy = () => {
      const end = performance.now() + 20;
      while (performance.now() < end);
    };
    // The throw reaches the timer that served the line, as an uncaught exception: keel-init's guard reports those.
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    const vitestHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      const a = new PassThrough();
      let thrown = false;
      const t0 = performance.now();
      new OutputPacer(a, () => {
        busy();
        if (!thrown && performance.now() > t0 + 1200) {
          thrown = true;
          throw new Error('take failed');
        }
      }, limits);
      for (let i = 0; i < 200; i++) a.write(`a ${i}\n`);
      const b = new PassThrough();
      let taken = 0;
      new OutputPacer(b, () => {
        busy();
        taken++;
      }, limits);
      for (let i = 0; i < 200; i++) b.write(`b ${i}\n`);
      await new Promise((r) => setTimeout(r, 4000));
      const then = taken;
      await new Promise((r) => setTimeout(r, 2000));
      expect(thrown).toBe(true);
      expect(uncaught).toHaveLength(1);
      expect(taken).toBeGreaterThan(then); // still served after the throw
      a.destroy();
      b.destroy();
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const h of vitestHandlers) process.on('uncaughtException', h);
    }
  }, 20_000);

  it('charges the CPU time a slice took, not the time that passed: a slice descheduled for seconds does not stall the others', async () => {
    const shared = new IntakeLine(100);
    const limits = { bytesPerSecond: 2 ** 30, linesPerSecond: 1e9, linesPerTurn: 1, shared };
    // One slice sleeps 2 s in the kernel (as keel-init descheduled would), using no CPU.
    const slow = new PassThrough();
    new OutputPacer(slow, () => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000), limits);
    slow.write('slow\n');
    await new Promise((r) => setTimeout(r, 2100));
    const quiet = new PassThrough();
    let at = 0;
    new OutputPacer(quiet, () => (at = performance.now()), limits);
    const sent = performance.now();
    quiet.write('quiet\n');
    await new Promise((r) => setTimeout(r, 1500));
    expect(at).toBeGreaterThan(0);
    expect(at - sent).toBeLessThan(500);
  });

  it('takes what its writer left at once after the exit, and paces again past the free bytes', async () => {
    const stream = new PassThrough();
    let taken = 0;
    const pacer = new OutputPacer(stream, (s) => (taken += s.length), { bytesPerSecond: 1000, linesPerSecond: 1e9, linesPerTurn: 1000 });
    for (let i = 0; i < 10; i++) stream.write(Buffer.alloc(1000, 'x'));
    await new Promise((r) => setTimeout(r, 50));
    expect(taken).toBeLessThanOrEqual(2000); // a second's worth, then paced: nine more seconds
    pacer.drainFreely(5000);
    await new Promise((r) => setTimeout(r, 50));
    const afterFree = taken;
    expect(afterFree).toBeGreaterThanOrEqual(6000);
    expect(afterFree).toBeLessThan(10_000); // the free 5,000 are spent: the rest waits for the budget again
  });
});

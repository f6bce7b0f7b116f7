// A program's terminal input, as keel-init writes it: real programs in real
// pseudo-terminals (spawnPty), fed through feedTerminal as the console and
// remote `keel exec` feed them. What is asserted is what a user of PID 1
// would see: keel-init stays idle while a program does not read, holds little
// of the input meanwhile, delivers every byte once it reads, and says nothing
// on the console about input left over when a program exits.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { feedTerminal, MAX_INPUT_QUEUED, spawnPty } from './pty-session.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'keel-pty-input-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `total` bytes of numbered lines, in 16 KiB chunks that split characters of
 * more than one byte. A terminal in canonical mode passes them unchanged, and
 * the last ends the last line (a line without its end is not given to a reader).
 */
function lines(total: number): { bytes: Buffer; source: Readable } {
  const all: Buffer[] = [];
  for (let i = 0, n = 0; n < total; i++, n += all.at(-1)!.length) all.push(Buffer.from(`line ${String(i).padStart(8, '0')} ${'abcdé€😀fghij'.repeat(4)}\n`));
  const bytes = Buffer.concat([Buffer.concat(all).subarray(0, total - 1), Buffer.from('\n')]);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 16 * 1024) chunks.push(bytes.subarray(at, at + 16 * 1024));
  return { bytes, source: Readable.from(chunks) };
}

describe('a terminal whose program does not read its input', () => {
  it('costs keel-init next to no CPU, holds at most MAX_INPUT_QUEUED of it, and delivers every byte in order once the program reads', async () => {
    const total = 4 * 2 ** 20;
    const file = join(dir, 'got');
    const { bytes, source } = lines(total);
    // Two seconds without reading (the input fills the terminal), then all of it read into a file.
    const child = await spawnPty('/bin/sh', ['-c', `stty -echo; sleep 2; exec head -c ${total} > ${file}`], { cols: 80, rows: 24 });
    child.onData(() => undefined);
    let fed = 0;
    let mostQueued = 0;
    feedTerminal(source, child, (n) => {
      fed += n;
      mostQueued = Math.max(mostQueued, child.inputQueued());
    });
    await sleep(300); // the terminal is full by now
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(1200);
    const used = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    const share = (used.user + used.system) / 1000 / wall;
    const fedWhileWaiting = fed;
    console.log(`while the program did not read: keel used ${(100 * share).toFixed(1)} % of a CPU, took ${(fed / 1024).toFixed(0)} KiB, held at most ${(mostQueued / 1024).toFixed(0)} KiB`);
    // node-pty retrying a write the terminal refuses on every turn of the event loop: 56 to 95 % measured here (2 cores).
    expect(share).toBeLessThan(0.2);
    // What the terminal holds (its line buffer and the pty's own) plus at most MAX_INPUT_QUEUED and one chunk: not the 4 MiB offered.
    expect(mostQueued).toBeLessThanOrEqual(MAX_INPUT_QUEUED + 16 * 1024);
    expect(fedWhileWaiting).toBeLessThan(1024 * 1024);
    const exit = await child.exited;
    expect(exit.exitCode).toBe(0);
    const got = readFileSync(file);
    expect(got.length).toBe(total);
    expect(got.equals(bytes)).toBe(true);
  }, 30_000);
});

describe('a keystroke', () => {
  it('is written at once, not after a turn of the event loop', async () => {
    const child = await spawnPty('/bin/cat', [], { cols: 80, rows: 24 });
    let screen = '';
    child.onData((d) => (screen += d));
    child.write('typed\r');
    expect(child.inputQueued()).toBe(0); // the terminal has it already
    for (const end = Date.now() + 5000; !/typed\r\ntyped\r\n/.test(screen) && Date.now() < end; ) await sleep(10);
    expect(screen).toContain('typed\r\ntyped\r\n'); // the terminal's echo, and cat's copy
    child.kill('SIGKILL');
    await child.exited;
  });
});

describe('input for a program that has exited', () => {
  it('is dropped without a word on the console and without throwing, and leaves no descriptor open', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const errors = vi.spyOn(console, 'error');
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      const child = await spawnPty('/bin/sh', ['-c', 'stty -echo; sleep 0.5'], { cols: 80, rows: 24 });
      child.onData(() => undefined);
      child.write('never read\n'.repeat(50_000)); // more than the terminal takes: some is still waiting when the program exits
      expect(child.inputQueued()).toBeGreaterThan(0);
      await child.exited;
      expect(() => child.write('typed after the exit\n')).not.toThrow();
      await sleep(500);
      expect(errors).not.toHaveBeenCalled();
      expect(stderr).not.toHaveBeenCalled();
      expect(child.inputQueued()).toBe(0);
    } finally {
      errors.mockRestore();
      stderr.mockRestore();
    }
    expect(fds()).toBe(before);
  }, 20_000);
});

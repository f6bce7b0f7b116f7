// The helpers keel runs for its own work (runc, ip): started by the addon's
// spawn and reaped by this test worker's real reaper (a child subreaper), as
// keel-init does, with real programs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOwned, trackChildProcesses } from '../init/core/owned-children.js';
import { Reaper } from '../init/core/reaper.js';
import { runtimeHost } from '../init/core/runtime-host.js';
import { sys } from '../init/core/sys.js';
import { findOnPath, runHelper, startHelper } from '../runtime/helper-process.js';
import type { Host } from '../runtime/host.js';
import { pidOfCommand } from './helpers/command-line.js';

let reaper: Reaper;
let host: Host;

beforeAll(() => {
  trackChildProcesses();
  reaper = new Reaper(sys(), { sweepMs: 200 });
  reaper.start();
  host = runtimeHost(sys(), reaper);
});
afterAll(() => reaper.stop());

describe('helper processes', () => {
  it('gives the exit code and both outputs, found on PATH', async () => {
    const r = await runHelper(host, 'sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 10_000 });
    expect(r).toEqual({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  });

  it('gives the program its name as written in argv[0], as a shell would', async () => {
    const r = await runHelper(host, 'sh', ['-c', 'echo "$0"'], { timeoutMs: 10_000 });
    expect(r.stdout).toBe('sh\n');
  });

  it('reads stdin as empty and runs in keel’s environment as it is now, what keel removed from it gone', async () => {
    // keel hands its environment over as the C library holds it: node's process.env writes through to it.
    process.env.KEEL_HELPER_GONE = 'stale';
    const before = await runHelper(host, 'sh', ['-c', 'echo "[$KEEL_HELPER_GONE]"'], { timeoutMs: 10_000 });
    expect(before.stdout).toBe('[stale]\n');
    delete process.env.KEEL_HELPER_GONE;
    process.env.KEEL_HELPER_TEST = 'seen';
    try {
      const r = await runHelper(host, 'sh', ['-c', 'cat; echo "$KEEL_HELPER_TEST [$KEEL_HELPER_GONE]"'], { timeoutMs: 10_000 });
      expect(r.stdout).toBe('seen []\n');
    } finally {
      delete process.env.KEEL_HELPER_TEST;
    }
  });

  it('says how a signal ended it', async () => {
    const r = await runHelper(host, 'sh', ['-c', 'kill -TERM $$'], { timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: null, signal: 'SIGTERM', timedOut: false });
  });

  it('kills a helper that outlasts its time, with what it started in its group, and says so', async () => {
    const t0 = Date.now();
    const r = await runHelper(host, 'sh', ['-c', 'sleep 4242003 & sleep 4242004; echo never'], { timeoutMs: 300 });
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', stdout: '', timedOut: true });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pidOfCommand('sleep', '4242003')).toBeUndefined();
    expect(pidOfCommand('sleep', '4242004')).toBeUndefined();
  });

  it('kills, at its time, what the helper started in a session of its own, down to its grandchildren', async () => {
    // setsid puts the first sleep outside the helper's group, as runc's init stages and the program runc exec runs are;
    // the second shell's sleep is a grandchild in that other session.
    const r = await runHelper(host, 'sh', ['-c', 'setsid sh -c "sleep 4242005 & exec sleep 4242006" & exec sleep 4242007'], { timeoutMs: 500 });
    expect(r).toMatchObject({ signal: 'SIGKILL', timedOut: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const n of ['4242005', '4242006', '4242007']) expect(pidOfCommand('sleep', n), `sleep ${n}`).toBeUndefined();
  });

  it('keeps output up to its limit and still lets the helper write the rest', async () => {
    const r = await runHelper(host, 'sh', ['-c', 'head -c 1000000 /dev/zero | tr "\\0" x; echo done >&2'], { timeoutMs: 10_000, maxBytes: 1000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x'.repeat(1000));
    expect(r.stderr).toBe('done\n');
  });

  it('does not wait for good on a child the helper left holding its output', async () => {
    const t0 = Date.now();
    // The child outlives the 2 s grace, then ends by itself: nothing is left behind.
    const r = await runHelper(host, 'sh', ['-c', 'echo before; sleep 5 & exit 0'], { timeoutMs: 60_000 });
    expect(r).toMatchObject({ code: 0, stdout: 'before\n' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('reports a program that is missing or cannot run, with nothing started', async () => {
    const missing = await runHelper(host, 'keel-no-such-helper', [], { timeoutMs: 10_000 });
    expect(missing).toMatchObject({ code: null, stdout: '' });
    expect(missing.stderr).toMatch(/keel-no-such-helper: no such program on PATH/);
    const dir = mkdtempSync(join(tmpdir(), 'keel-helper-'));
    try {
      const file = join(dir, 'not-a-program');
      writeFileSync(file, 'text\n', { mode: 0o644 });
      const notExecutable = await runHelper(host, file, [], { timeoutMs: 10_000 });
      expect(notExecutable.code).toBeNull();
      expect(notExecutable.stderr).toBe(`${file}: execve(${file}): Permission denied`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is keel’s own child, reaped by keel’s reaper: child_process does not own it', async () => {
    const started = startHelper(host, findOnPath('true')!, []);
    expect(isOwned(started.pid)).toBe(false);
    expect(await started.exited).toEqual({ pid: started.pid, code: 0, signal: null });
  });
});

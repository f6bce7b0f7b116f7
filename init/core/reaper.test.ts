import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackChildProcesses } from './owned-children.js';
import { listChildren, readStat } from '../../runtime/procfs.js';
import { Reaper } from './reaper.js';
import { sys } from './sys.js';

// The real reaper in this test worker, which becomes a child subreaper: the
// orphans below are re-parented to it exactly as they would be to PID 1.
const run = promisify(execFile);
let reaper: Reaper;

beforeAll(() => {
  trackChildProcesses();
  reaper = new Reaper(sys(), { sweepMs: 200, keepUnclaimed: 50 });
  reaper.start();
});
afterAll(() => reaper.stop());

function zombiesOfOurs(): number[] {
  return listChildren().filter((pid) => readStat(pid)?.state === 'Z');
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('reaper', () => {
  it('delivers a child_process exit status while orphans are being reaped around it', async () => {
    const before = reaper.reapedCount;
    // 300 orphans (each shell exits at once, leaving its sleep to us) and 40 ordinary children at the same time.
    const orphans = run('sh', ['-c', 'for i in $(seq 300); do (sleep 0.2 &); done']);
    const codes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        new Promise<number | null>((resolve) => spawn('sh', ['-c', `sleep 0.0${i % 10}; exit ${i % 7}`]).on('exit', (code) => resolve(code))),
      ),
    );
    await orphans;
    expect(codes).toEqual(Array.from({ length: 40 }, (_, i) => i % 7));
    await until(() => reaper.reapedCount - before >= 300 && zombiesOfOurs().length === 0, 20_000);
    expect(zombiesOfOurs()).toEqual([]);
  });

  it('keeps an early exit for its late waiter through a flood of other orphans, past the unclaimed limit', async () => {
    // As a container init that exits before its run has asked for it, while a pid: host entry makes orphans.
    // The job outlives its shell (an orphan, so ours to reap), and ends before the flood: a job that ended first was
    // sometimes reaped by its own shell, whose status then never came to us and the wait below hung.
    const { stdout } = await run('sh', ['-c', 'sh -c "sleep 0.2; exit 5" >/dev/null 2>&1 & echo $!']);
    const pid = Number(stdout.trim());
    await until(() => !existsSync(`/proc/${pid}`), 5_000);
    const before = reaper.reapedCount;
    await run('sh', ['-c', 'for i in $(seq 200); do (true &); done']); // four times the limit of 50
    await until(() => reaper.reapedCount - before >= 200, 20_000);
    expect(await reaper.wait(pid)).toEqual({ pid, code: 5, signal: null });
  });

  it('hands an orphan exit status to the one who waits for its pid, even when it asked late', async () => {
    // The shell prints the pid of a background job, then exits: the job is orphaned to us.
    const { stdout } = await run('sh', ['-c', 'sh -c "sleep 0.1; exit 7" >/dev/null 2>&1 & echo $!']);
    const pid = Number(stdout.trim());
    await new Promise((r) => setTimeout(r, 500));
    expect(await reaper.wait(pid)).toEqual({ pid, code: 7, signal: null });

    const { stdout: s2 } = await run('sh', ['-c', 'sleep 5 >/dev/null 2>&1 & echo $!']);
    const pid2 = Number(s2.trim());
    const waiting = reaper.wait(pid2);
    process.kill(pid2, 'SIGKILL');
    expect(await waiting).toEqual({ pid: pid2, code: null, signal: 'SIGKILL' });
  });

  it('does not answer for a newer process with an older status of the same pid', async () => {
    const { stdout } = await run('sh', ['-c', 'sh -c "sleep 0.1; exit 3" >/dev/null 2>&1 & echo $!']);
    const pid = Number(stdout.trim());
    await new Promise((r) => setTimeout(r, 500));
    const later = performance.now();
    const answer = await Promise.race([reaper.wait(pid, later), new Promise((r) => setTimeout(() => r('no answer'), 300))]);
    expect(answer).toBe('no answer');
  });
});

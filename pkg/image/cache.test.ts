// keel's cache on the build host: what a build has not used for 30 days goes.
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { markUsed, sweepUnused, UNUSED_MS } from './cache.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, ageMs: number) => {
  const p = join(dir, name);
  writeFileSync(p, name);
  const t = new Date(Date.now() - ageMs);
  utimesSync(p, t, t);
  return p;
};

describe("the cache's sweep", () => {
  it('removes what no build used for 30 days, keeps what a build used since, and removes what it is told to', () => {
    const stale = file('stale', UNUSED_MS + 86_400_000);
    const usedAgain = file('used-again', UNUSED_MS + 86_400_000);
    const recent = file('recent', 86_400_000);
    const older = file('node-20.20.2-1000-111', 86_400_000);
    // A running build's copy in the making, old or named: its build removes or renames it, not the sweep.
    const building = file(`node-20.20.2-1000-222.tmp-${process.pid}`, UNUSED_MS + 86_400_000);
    markUsed(usedAgain);
    sweepUnused(dir, (n) => n.startsWith('node-20.20.2-1000-'));
    expect([stale, usedAgain, recent, older, building].map(existsSync)).toEqual([false, true, true, false, true]);
    sweepUnused(join(dir, 'no-such-dir')); // nothing there: nothing to do
  });
});

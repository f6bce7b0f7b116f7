// keel's cache on the build host, and the scratch paths a build writes
// before renaming them into place: an interrupted build removes its own, and
// the next build removes those of builds that died, so the cache never keeps
// a half-made entry.
import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../runtime/pids.js';

/** Where downloaded kernels, images and probes are kept: $KEEL_CACHE, else $XDG_CACHE_HOME/keel, else ~/.cache/keel. */
export function cacheDir(): string {
  if (process.env.KEEL_CACHE) return process.env.KEEL_CACHE;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'keel');
}

const SCRATCH = /\.tmp-(\d+)$/;
const mine = new Set<string>();

/** A scratch path beside `final` (renamed to it once complete), removed if this process is interrupted. */
export function scratchFor(final: string): string {
  const p = `${final}.tmp-${process.pid}`;
  mine.add(p);
  return p;
}

/** The scratch path is in place (renamed) or gone: nothing to remove any more. */
export function scratchDone(p: string): void {
  mine.delete(p);
}

/** Removes this process's scratch paths (on ctrl-c or SIGTERM). */
export function removeOwnScratch(): void {
  for (const p of mine) rmSync(p, { recursive: true, force: true });
  mine.clear();
}

/** Removes the scratch paths in `dir` of builds that no longer run; returns how many. */
export function sweepDeadScratch(dir: string): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = Number(SCRATCH.exec(name)?.[1]);
    if (!pid || pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

/** What keel's cache keeps for builds that use it: an entry no build has used for this long is removed. */
export const UNUSED_MS = 30 * 86_400_000;

/** Marks a cached file as used now (its mtime), so that sweepUnused keeps it. */
export function markUsed(path: string): void {
  const now = new Date();
  utimesSync(path, now, now);
}

/**
 * Removes the files in `dir` that no build has used (markUsed) for UNUSED_MS, and those `alsoRemove` names.
 * Scratch paths are left to sweepDeadScratch: one may be a running build's.
 */
export function sweepUnused(dir: string, alsoRemove: (name: string) => boolean = () => false): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const old = Date.now() - UNUSED_MS;
  for (const n of names) {
    if (SCRATCH.test(n)) continue;
    try {
      if (alsoRemove(n) || statSync(join(dir, n)).mtimeMs < old) rmSync(join(dir, n), { force: true });
    } catch {
      /* another build removed it */
    }
  }
}

// keel's cache on the build host, and the scratch paths a build writes
// before renaming them into place: an interrupted build removes its own, and
// the next build removes those of builds that died, so the cache never keeps
// a half-made entry.
import { readdirSync, rmSync } from 'node:fs';
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

import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where downloaded kernels and probes are kept: $KEEL_CACHE, else $XDG_CACHE_HOME/keel, else ~/.cache/keel. */
export function cacheDir(): string {
  if (process.env.KEEL_CACHE) return process.env.KEEL_CACHE;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'keel');
}

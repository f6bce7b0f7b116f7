// keel-init's open-file limit. A soft limit below the hard one only makes
// keel fail sooner (EMFILE) with descriptors it is allowed to have: the soft
// limit is raised to the hard one at start, in every mode (machine mode sets
// both first, in machine/setup.ts), and the control API's connection cap is
// sized from it. Node has no getrlimit: /proc/self/limits has the numbers.
import { readFileSync } from 'node:fs';
import { RLIMIT_NOFILE, type Sys } from './sys.js';

export interface Limit {
  soft: number;
  hard: number;
}

/** "Max open files            1024                 524288               files". */
export function parseOpenFileLimit(limits: string): Limit | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!m) return undefined;
  const n = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

export function openFileLimit(): Limit | undefined {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Raises the soft limit to the hard one; the limit as it then is. A failure goes to `warn`, and the limit stays. */
export function raiseOpenFileLimit(sys: Sys, warn: (message: string) => void): Limit | undefined {
  const limit = openFileLimit();
  if (!limit || limit.soft >= limit.hard || !Number.isFinite(limit.hard)) return limit;
  try {
    sys.setrlimit(RLIMIT_NOFILE, limit.hard, limit.hard);
    return { soft: limit.hard, hard: limit.hard };
  } catch (err) {
    warn(`could not raise the open-file limit from ${limit.soft} to ${limit.hard}: ${(err as Error).message}`);
    return limit;
  }
}

// Running xorriso, with a second chance when xorriso itself crashes.
//
// Debian 12's xorriso (1.5.4) now and then dies of a SIGSEGV of its own while
// writing even a tiny ISO: measured on these 2-core machines, 2 runs in 2,400
// with six running at once (a CI run's test files hit it), none in 300 run
// one after another. Its signal handler prints "UNIX-SIGNAL: SIGSEGV" and
// exits 1, half an image left behind. The same run again succeeds, so a
// build must not fail for it: such a run is repeated, with the half-written
// output removed first. Any other failure is xorriso's answer and stands.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { rmSync } from 'node:fs';

/** How many times in all a run that crashed is tried. */
export const XORRISO_ATTEMPTS = 3;

/** What xorriso's own signal handler prints when xorriso crashed (not when a signal from outside ended it). */
const CRASH = /UNIX-SIGNAL:\s+SIG(SEGV|BUS|ILL|FPE)\b/;

export interface XorrisoResult {
  result: SpawnSyncReturns<string>;
  /** How many runs it took (more than 1: xorriso crashed before). */
  attempts: number;
}

/** True when xorriso's run ended in a crash of its own, which a second run does not repeat. */
export function xorrisoCrashed(r: SpawnSyncReturns<string>): boolean {
  return r.status !== 0 && CRASH.test(r.stderr ?? '');
}

/** Runs `xorriso args` writing `out`; a run that crashed is run again, up to XORRISO_ATTEMPTS in all. */
export function spawnXorriso(xorriso: string, args: string[], out: string, env: NodeJS.ProcessEnv = process.env): XorrisoResult {
  for (let attempt = 1; ; attempt++) {
    rmSync(out, { force: true });
    const result = spawnSync(xorriso, args, { encoding: 'utf8', env });
    if (!xorrisoCrashed(result) || attempt === XORRISO_ATTEMPTS) return { result, attempts: attempt };
  }
}

// The one method every restart is timed by: poll the container's cgroup for a
// new `sleep 100000`. runsv, s6 and Docker keep a container's cgroup path
// across restarts; keel gives each attempt a cgroup of its own below the
// service's, so its watch covers every cgroup there. The cgroup is where a
// process is, whoever its parent is (Docker's shims are not dockerd's children).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sleep } from './cleanup.js';
import { isSleeper, now, readOr } from './proc.js';

/** cgroup.procs of the cgroup `pid` is in: v1's pids hierarchy, or the v2 unified one. */
export function cgroupProcsOf(pid: number): string {
  const lines = readOr(`/proc/${pid}/cgroup`).split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?pids(,[^:]*)?:/.test(l));
  if (v1 && existsSync('/sys/fs/cgroup/pids')) return join('/sys/fs/cgroup/pids', v1.slice(v1.lastIndexOf(':') + 1), 'cgroup.procs');
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2) {
    const base = existsSync('/sys/fs/cgroup/unified') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
    return join(base, v2.slice(3), 'cgroup.procs');
  }
  throw new Error(`no cgroup found for pid ${pid}`);
}

export function sleepersIn(procsFile: string): number[] {
  return readOr(procsFile)
    .split('\n')
    .filter((l) => l !== '')
    .map(Number)
    .filter(isSleeper);
}

/** What a watch reads: one cgroup's cgroup.procs, or (for keel's attempts) { below } every cgroup directly below a directory. */
export type Watched = string | { below: string };

/** The cgroup.procs of the attempt cgroups around `procsFile` (keel's SERVICE/ID+N): a watch over all of them. */
export function attemptCgroups(procsFile: string): Watched {
  return { below: dirname(dirname(procsFile)) };
}

export function sleepersOf(w: Watched): number[] {
  if (typeof w === 'string') return sleepersIn(w);
  let dirs: string[] = [];
  try {
    dirs = readdirSync(w.below, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    /* gone: no sleepers */
  }
  return dirs.flatMap((d) => sleepersIn(join(w.below, d, 'cgroup.procs')));
}

/** Polls (about every millisecond) until a `sleep 100000` other than `old` is in the watched cgroup(s). */
export async function waitForNewSleeper(procsFile: Watched, old: number, timeoutMs: number): Promise<{ pid: number; at: number }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const fresh = sleepersOf(procsFile).filter((p) => p !== old);
    if (fresh.length > 0) return { pid: fresh[0]!, at: now() };
    if (Date.now() > end) throw new Error(`no new container process in ${JSON.stringify(procsFile)} within ${timeoutMs} ms`);
    await sleep(1);
  }
}

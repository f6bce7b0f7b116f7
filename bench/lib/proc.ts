// Reading processes from /proc: trees, command lines, memory and CPU.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution (keel's log uses Date.now()). */
export const now = (): number => performance.timeOrigin + performance.now();

export function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/** Children of every thread of `pid` (a reaper's adopted children hang off whichever thread). */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = new Set<number>();
  for (const t of tasks) {
    for (const c of readOr(`/proc/${pid}/task/${t}/children`).trim().split(/\s+/)) if (c) out.add(Number(c));
  }
  return [...out];
}

export function argv(pid: number): string[] {
  return readOr(`/proc/${pid}/cmdline`).split('\0').filter((a) => a !== '');
}

/** The benchmarks' service: `sleep 100000` (after exec, so never runc's own init). */
export function isSleeper(pid: number): boolean {
  const a = argv(pid);
  return a.length === 2 && /(^|\/)sleep$/.test(a[0]!) && a[1] === '100000';
}

/** Every `sleep 100000` whose parent chain leads to `root`, within `depth` generations. */
export function sleepersUnder(root: number, depth = 4): number[] {
  const found: number[] = [];
  let level = [root];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: number[] = [];
    for (const p of level) {
      for (const c of childrenOf(p)) {
        if (isSleeper(c)) found.push(c);
        else next.push(c);
      }
    }
    level = next;
  }
  return found;
}

/** A process's pids in each PID namespace, outermost first. */
export function nsPids(pid: number): number[] {
  const m = /^NSpid:\s*(.+)$/m.exec(readOr(`/proc/${pid}/status`));
  return m ? m[1]!.trim().split(/\s+/).map(Number) : [];
}

export function isZombieOrGone(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return true;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** VmRSS in KiB (0 if gone). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)/m.exec(readOr(`/proc/${pid}/status`));
  return m ? Number(m[1]) : 0;
}

/**
 * Proportional set size in KiB: shared pages divided among the processes that
 * map them. Many shims share one binary's text, so RSS sums count it N times.
 */
export function pssKiB(pid: number): number {
  const m = /^Pss:\s+(\d+)/m.exec(readOr(`/proc/${pid}/smaps_rollup`));
  return m ? Number(m[1]) : 0;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime of the whole process in ms (clock-tick resolution). */
export function cpuMs(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** On-CPU time summed over the live threads, in ms (nanosecond resolution, from schedstat). */
export function schedMs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readOr(`/proc/${pid}/task/${t}/schedstat`, '0').split(' ')[0]);
  return ns / 1e6;
}

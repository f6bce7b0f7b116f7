// Reading processes from /proc: who our children are, what is below a process
// (a helper killed at its timeout), which processes are left at shutdown, and
// which of them are kernel threads.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  flags: number;
}

const PF_KTHREAD = 0x00200000;

/** Parses /proc/PID/stat; comm may contain spaces and parentheses, so split at the last ")". */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  return {
    pid: parseInt(text.slice(0, open), 10),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: parseInt(rest[1] ?? '0', 10),
    flags: parseInt(rest[6] ?? '0', 10),
  };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone between listing and reading
  }
}

export function listPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(parseInt(name, 10));
  }
  return out;
}

export function isKernelThread(stat: ProcStat): boolean {
  // Only the flag: in a PID namespace, pid 2 is an ordinary process.
  return (stat.flags & PF_KTHREAD) !== 0;
}

let childrenFileWorks: boolean | undefined;

/**
 * Our direct children. /proc/self/task/T/children (CONFIG_PROC_CHILDREN) is
 * cheap; orphans re-parented to us may hang off any of our threads, so every
 * thread's file is read. Without it, fall back to scanning all of /proc.
 */
export function listChildren(self = process.pid): number[] {
  if (childrenFileWorks !== false) {
    try {
      const pids: number[] = [];
      for (const tid of readdirSync(`/proc/${self}/task`)) {
        let text: string;
        try {
          text = readFileSync(`/proc/${self}/task/${tid}/children`, 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid !== String(self)) continue; // thread ended
          throw err;
        }
        for (const p of text.split(' ')) if (p !== '' && p !== '\n') pids.push(parseInt(p, 10));
      }
      childrenFileWorks = true;
      return pids;
    } catch {
      childrenFileWorks = false;
    }
  }
  const pids: number[] = [];
  for (const pid of listPids()) {
    const st = readStat(pid);
    if (st && st.ppid === self) pids.push(pid);
  }
  return pids;
}

/** Every process below `root` in the process tree (not including root). */
export function listDescendants(root = process.pid): number[] {
  const byParent = new Map<number, number[]>();
  for (const pid of listPids()) {
    const st = readStat(pid);
    if (!st) continue;
    const kids = byParent.get(st.ppid) ?? [];
    kids.push(pid);
    byParent.set(st.ppid, kids);
  }
  const out: number[] = [];
  const stack = [...(byParent.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

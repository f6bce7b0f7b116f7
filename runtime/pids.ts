// Signals to processes by pid, as keel sends them when no runtime tool does
// it for it: counted, and a process that ended meanwhile is not an error.

/**
 * Sends `signal` to each pid; returns how many it reached. Only to single
 * processes: a pid below 1 is skipped. cgroup v2's cgroup.procs, read from
 * inside a PID namespace, lists each process outside that namespace as 0,
 * and kill(0) would signal the caller's whole process group (for a test
 * keel, the test runner's), kill(-n) a group, kill(-1) every process.
 */
export function signalPids(pids: readonly number[], signal: NodeJS.Signals): number {
  let n = 0;
  for (const pid of pids) {
    if (!Number.isInteger(pid) || pid < 1) continue;
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      /* exited meanwhile */
    }
  }
  return n;
}

/** Whether a process runs (one of another user counts: it exists). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Signals to processes by pid, as keel sends them when no runtime tool does
// it for it: counted, and a process that ended meanwhile is not an error.

/** Sends `signal` to each pid; returns how many it reached. */
export function signalPids(pids: readonly number[], signal: NodeJS.Signals): number {
  let n = 0;
  for (const pid of pids) {
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

// "Every remaining process", as the shutdown sequence means it. As PID 1 (of
// a machine or a PID namespace) that is everything but ourselves and kernel
// threads, and kill(-1) reaches it in one call. As a plain process it is only
// our own descendants: kill(-1) there would hit the whole host.
import { signalPids } from '../../runtime/pids.js';
import { isKernelThread, listDescendants, listPids, readStat } from '../../runtime/procfs.js';

export function remainingProcesses(isPid1: boolean): number[] {
  const candidates = isPid1 ? listPids().filter((p) => p !== process.pid) : listDescendants();
  const out: number[] = [];
  for (const pid of candidates) {
    const st = readStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X' || isKernelThread(st)) continue;
    out.push(pid);
  }
  return out;
}

export function signalRemaining(isPid1: boolean, signal: 'SIGTERM' | 'SIGKILL'): number {
  const targets = remainingProcesses(isPid1);
  if (targets.length === 0) return 0;
  if (isPid1) {
    try {
      process.kill(-1, signal);
    } catch {
      /* ESRCH: nothing left */
    }
    return targets.length;
  }
  return signalPids(targets, signal);
}

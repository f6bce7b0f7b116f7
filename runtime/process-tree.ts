// A helper that overran its time is killed with everything it started. Its
// process group is not enough for runc exec: the program runc starts in the
// container calls setsid (a session and group of its own), and runc's init
// stages before it (runc:[1:CHILD], runc:[2:INIT]) are cloned with
// CLONE_PARENT, so all are runc's children outside its group. Killed by group
// alone, a runc exec at its timeout left them running in the container; under
// emulation, probes every half second piled up a dozen.
import { readlinkSync } from 'node:fs';
import { signalPids } from './pids.js';
import { listDescendants } from './procfs.js';

/**
 * Whether /proc numbers processes as this process's PID namespace does. A
 * /proc mounted for another namespace (the host's, in a PID namespace whose
 * /proc was not remounted) gives other processes' pids: signalling those
 * numbers here would hit strangers, so the tree is then not read at all.
 */
function procIsOurs(): boolean {
  try {
    return readlinkSync('/proc/self') === String(process.pid);
  } catch {
    return false;
  }
}

/** The processes below `root` (children, their children, …), from one read of /proc; none when /proc is not this namespace's. */
export function descendants(root: number): number[] {
  return procIsOurs() ? listDescendants(root) : [];
}

/**
 * SIGKILLs `root` and every process below it. All are stopped first, reading
 * /proc again until no new one shows up: a stopped process neither forks nor
 * exits, so none escapes by being started between the read and the kill, and
 * none is reparented away (to the container's init) by its parent dying first.
 * `root` must be the caller's own unreaped child, so its pid is not reused;
 * those below it are held by their stopped parents.
 */
export function killTree(root: number): void {
  signalPids([root], 'SIGSTOP');
  const stopped = new Set<number>();
  // Each round stops what the last read found; a tree that still grows after this many rounds is killed as it is.
  for (let round = 0; round < 32; round++) {
    const fresh = descendants(root).filter((pid) => !stopped.has(pid));
    if (fresh.length === 0) break;
    signalPids(fresh, 'SIGSTOP');
    for (const pid of fresh) stopped.add(pid);
  }
  signalPids([root, ...stopped], 'SIGKILL');
}

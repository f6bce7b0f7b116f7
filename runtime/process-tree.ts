// A helper that overran its time is killed with everything it started. Its
// process group is not enough for runc exec: the program runc starts in the
// container calls setsid (a session and group of its own), and runc's init
// stages before it (runc:[1:CHILD], runc:[2:INIT]) are cloned with
// CLONE_PARENT, so all are runc's children outside its group. Killed by group
// alone, a runc exec at its timeout left them running in the container; under
// emulation, probes every half second piled up a dozen.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/** Each live process's parent, from /proc/<pid>/stat; none when /proc is not this namespace's. */
function parents(): Map<number, number> {
  const parentOf = new Map<number, number>();
  let names: string[];
  try {
    if (!procIsOurs()) return parentOf;
    names = readdirSync('/proc');
  } catch {
    return parentOf;
  }
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue; // ended while the list was read
    }
    // "pid (comm) state ppid …": comm may hold spaces and ")", so fields are counted from its last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parentOf.set(pid, ppid);
  }
  return parentOf;
}

/** The processes below `root` (children, their children, …), from one read of /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents()) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const found: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* ended meanwhile */
  }
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
  signal(root, 'SIGSTOP');
  const stopped = new Set<number>();
  // Each round stops what the last read found; a tree that still grows after this many rounds is killed as it is.
  for (let round = 0; round < 32; round++) {
    const fresh = descendants(root).filter((pid) => !stopped.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      signal(pid, 'SIGSTOP');
      stopped.add(pid);
    }
  }
  signal(root, 'SIGKILL');
  for (const pid of stopped) signal(pid, 'SIGKILL');
}

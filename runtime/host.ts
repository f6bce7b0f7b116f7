// What the runtime needs from the init that hosts it: exit statuses of the
// processes left to it (it is their reaper: container inits and process
// entries alike), mount(2), and the fork-and-exec of a process entry.
import type { ExitStatus } from './outcome.js';

/** A process entry's start, everything resolved beforehand (the child only makes async-signal-safe calls). */
export interface SpawnRequest {
  /** An absolute path: there is no PATH search in the child. */
  path: string;
  argv: string[];
  /** Absent: keel's own environment, handed over as it is (no copy through process.env, which is slow to walk). */
  env?: string[];
  cwd: string;
  /** Switch to this user (setgroups, setgid, setuid); undefined keeps keel's own. */
  user?: { uid: number; gid: number; groups: number[] };
  /** [resource number, soft, hard], -1 for unlimited. */
  rlimits: Array<[number, number, number]>;
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  /** The child's fds 0, 1 and 2. */
  stdio: [number, number, number];
  /** Its own process group as the terminal's foreground group (on fd 0), instead of a session of its own. */
  foreground: boolean;
  /** An open cgroup.procs of the cgroup the child joins before it execs. */
  cgroupFd?: number;
}

export interface Host {
  /** Resolves when `pid` (a child of ours) is reaped; `since` is a performance.now() from before it was born. */
  waitPid(pid: number, since: number): Promise<ExitStatus>;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, detach: boolean): void;
  /** Forks and execs; returns the pid. Throws (code: the errno name, syscall: the step that failed) with nothing left behind. */
  spawnProcess(request: SpawnRequest): number;
  /** A pipe, both ends close-on-exec: [read, write]. */
  pipe(): [number, number];
}

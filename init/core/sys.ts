// The one module that reaches the syscalls Node lacks (docs/architecture.md, "Syscalls Node lacks"),
// through keel's small N-API addon (init/native/keel_sys.c).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReapResult {
  pid: number;
  /** Exit code, or -1 when killed by a signal. */
  code?: number;
  /** Signal number, or -1 when it exited normally. */
  signal?: number;
  /** Set when the pid is not (or no longer) our child. */
  gone?: 1;
}

export interface Sys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  reboot(cmd: number): void;
  sethostname(name: string): void;
  setChildSubreaper(): void;
  /** waitpid(pid, WNOHANG|__WALL): undefined while the pid still runs. */
  reap(pid: number): ReapResult | undefined;
  /** waitid(P_ALL, WNOWAIT): the pid of an exited child, left unreaped, or 0. */
  peekExited(): number;
  chroot(path: string): void;
  /** flock(LOCK_EX|LOCK_NB) on the directory `path`, held until keel-init exits: false when another process holds it. */
  lockDirectory(path: string): boolean;
  execve(path: string, argv: string[], env: string[]): never;
  sync(): void;
  setrlimit(resource: number, soft: number, hard: number): void;
  /** Loads kernel modules in order, on a thread of libuv's pool; one result per path, with the error where one failed. */
  finitModules(paths: string[]): Promise<Array<{ ms: number; error?: NodeJS.ErrnoException }>>;
  interfaceUp(name: string): void;
  /** Starts the thread that receives sd_notify datagrams; `onMessage` gets the socket id and the text. */
  notifyStart(onMessage: (id: number, message: string) => void): void;
  /** Binds an sd_notify datagram socket at `path`; returns its id. */
  notifyOpen(path: string): number;
  notifyClose(id: number): void;
  /** pipe2(O_CLOEXEC), its buffer raised to 256 KiB where the kernel allows: [read, write]. */
  pipe(): [number, number];
  /** fcntl(F_DUPFD_CLOEXEC) then O_NONBLOCK: a close-on-exec, non-blocking duplicate of `fd`, numbered 3 or above (close it with fs.closeSync). */
  dupNonBlocking(fd: number): number;
  /** Forks and execs a process entry (keel_sys.c's spawn_child says what the child does); returns its pid. */
  spawnProcess(options: SpawnOptions): number;
  /** PR_SET_THP_DISABLE for keel itself; spawnProcess lifts it for the child (keel_sys.c says why). */
  disableHugePages(): void;
  /** Lifts keel's huge-page opt-out for a fork made elsewhere (true), or sets it again (false). */
  childHugePages(begin: boolean): void;
}

/** spawnProcess's options, flattened for the addon (runtime-host.ts makes them from a SpawnRequest). */
export interface SpawnOptions {
  path: string;
  argv: string[];
  /** null: keel's own environment, as the C library holds it (node's process.env writes through to it). */
  env: string[] | null;
  cwd: string;
  changeUser: 0 | 1;
  uid: number;
  gid: number;
  groups: number[];
  /** resource, soft, hard, resource, soft, hard, …; -1 is unlimited. */
  rlimits: number[];
  stdio: [number, number, number];
  noNewPrivs: 0 | 1;
  foreground: 0 | 1;
  cgroupFd: number;
  oomScoreAdj: number | null;
}

export { MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE, MS_SHARED, MNT_DETACH } from '../../runtime/mount-options.js';

export const RB_AUTOBOOT = 0x01234567;
export const RB_HALT_SYSTEM = 0xcdef0123;
export const RB_POWER_OFF = 0x4321fedc;
export const RB_DISABLE_CAD = 0;
/** reboot(2)'s command for each way a machine goes down. */
export const REBOOT_CMD: Readonly<Record<'poweroff' | 'reboot' | 'halt', number>> = { poweroff: RB_POWER_OFF, reboot: RB_AUTOBOOT, halt: RB_HALT_SYSTEM };

export const RLIMIT_NOFILE = 7;

const ADDON = 'keel_sys.node';

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const list = [
    process.env.KEEL_NATIVE_DIR ? resolve(process.env.KEEL_NATIVE_DIR, ADDON) : '',
    join(here, ADDON), // beside the bundle in dist/ or in an image
    join(here, '..', 'native', 'build', 'Release', ADDON), // running from source (tests): init/core/ → init/native/
    join(here, '..', 'init', 'native', 'build', 'Release', ADDON), // a bundle in dist/bench/ or dist/
  ];
  return list.filter((p) => p !== '');
}

let loaded: Sys | undefined;

/** Loads the addon once. Throws an Error naming where it looked if it is missing. */
export function sys(): Sys {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const tried = candidates();
  const found = tried.find((p) => existsSync(p));
  if (!found) throw new Error(`keel's native addon ${ADDON} was not found (looked in ${tried.join(', ')}); run make build`);
  loaded = require(found) as Sys;
  return loaded;
}

// cgroups for process entries, where a writable cgroup v2 is delegated to
// keel (its own machine, or a container run with its own cgroup namespace on
// a cgroup v2 host): each process entry gets KEEL/ID with its limits, for
// OOM reports, stats and a kill no fork can race. The kernel's "no internal
// processes" rule means a cgroup that gives controllers to children holds no
// processes itself, so keel-init (PID 1) first moves itself, and whatever
// else is there, into a leaf of its own.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerBase } from '../model/index.js';
import { cgroupPids, cgroupV2, removeCgroup, signalCgroup } from './cgroups.js';

const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['cpu', 'cpuset', 'memory', 'pids', 'io'];
/** The leaf keel-init moves into when its own cgroup must give controllers to children. */
const INIT_LEAF = 'keel-init';

/** Where process entries' cgroups go: BASE/ID, BASE relative to the cgroup2 mount. */
export interface CgroupHome {
  base: string;
}

export type Resources = NonNullable<ContainerBase['resources']>;

/** keel's own cgroup v2 path ("0::/path" in /proc/self/cgroup). */
function ownCgroup(): string | undefined {
  try {
    return /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Enables what it can of `controllers` for the children of `dir`, one at a time so one that cannot does not block the rest; EBUSY is thrown. */
function enableControllers(dir: string): void {
  let available: string[] = [];
  try {
    available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return;
  }
  for (const c of CONTROLLERS.filter((x) => available.includes(x))) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY') throw err;
    }
  }
}

/** Moves every process of `dir` into its leaf INIT_LEAF (the kernel moves one process per write). */
function moveIntoLeaf(dir: string): void {
  const leaf = join(dir, INIT_LEAF);
  mkdirSync(leaf, { recursive: true });
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      writeFileSync(join(leaf, 'cgroup.procs'), pid);
    } catch {
      /* exited, or a kernel thread */
    }
  }
}

/**
 * The cgroup process entries get, or why there is none. Only PID 1 (`mayMove`)
 * moves processes into a leaf: anywhere else they are not keel's to move.
 */
export function delegatedCgroup(mayMove: boolean): { home: CgroupHome } | { why: string } {
  if (!cgroupV2()) return { why: 'there is no cgroup v2 at /sys/fs/cgroup (this host has cgroup v1)' };
  const own = ownCgroup();
  if (own === undefined) return { why: 'keel has no cgroup v2 of its own in /proc/self/cgroup' };
  const dir = join(ROOT, own);
  const keelDir = join(dir, 'keel');
  try {
    mkdirSync(keelDir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { why: `${dir} is not writable (${code}${code === 'EROFS' ? ': mounted read-only, as Docker does without a private cgroup namespace' : ''})` };
  }
  try {
    enableControllers(dir);
  } catch {
    if (!mayMove) return { why: `${dir} holds other processes, so it cannot give controllers to keel's cgroups (the kernel's "no internal processes" rule)` };
    try {
      moveIntoLeaf(dir);
      enableControllers(dir);
    } catch (err) {
      return { why: `could not move keel-init into ${join(dir, INIT_LEAF)} to give controllers to its children: ${(err as Error).message}` };
    }
  }
  try {
    enableControllers(keelDir);
  } catch (err) {
    return { why: `${keelDir}: ${(err as Error).message}` };
  }
  return { home: { base: join(own, 'keel') } };
}

/** The cgroup v2 files and values for the manifest's resources (OCI's names, as runc converts them). */
export function limitFiles(r: Resources): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  const max = (v: number) => (v < 0 ? 'max' : String(v));
  const m = r.memory;
  if (m?.limit !== undefined) out.push(['memory.limit', 'memory.max', max(m.limit)]);
  if (m?.reservation !== undefined) out.push(['memory.reservation', 'memory.low', String(m.reservation)]);
  // OCI's swap is memory plus swap; cgroup v2 counts swap alone.
  if (m?.swap !== undefined && m.limit !== undefined) out.push(['memory.swap', 'memory.swap.max', max(Math.max(0, m.swap - m.limit))]);
  const c = r.cpu;
  if (c?.quota !== undefined) out.push(['cpu.quota', 'cpu.max', `${max(c.quota)} ${c.period ?? 100_000}`]);
  // runc's conversion of shares (2..262144) to weight (1..10000).
  if (c?.shares !== undefined) out.push(['cpu.shares', 'cpu.weight', String(Math.round(1 + ((c.shares - 2) * 9999) / 262142))]);
  if (c?.cpus !== undefined) out.push(['cpu.cpus', 'cpuset.cpus', c.cpus]);
  if (c?.mems !== undefined) out.push(['cpu.mems', 'cpuset.mems', c.mems]);
  if (r.pids) out.push(['pids.limit', 'pids.max', max(r.pids.limit)]);
  if (r.blockIO?.weight !== undefined) out.push(['blockIO.weight', 'io.weight', String(r.blockIO.weight)]);
  return out;
}

/** One run's cgroup: made with its limits before the process starts, which joins it by writing to `procsFd` before it execs. */
export class ProcessCgroup {
  readonly path: string;
  procsFd: number | undefined;

  constructor(home: CgroupHome, id: string, resources: Resources | undefined) {
    this.path = join(home.base, id);
    const dir = join(ROOT, this.path);
    // A cgroup left by an earlier keel (a crash, a restart of keel in a namespace): what is in it is gone with it.
    if (existsSync(dir)) this.remove();
    mkdirSync(dir);
    try {
      for (const [field, file, value] of limitFiles(resources ?? {})) {
        try {
          writeFileSync(join(dir, file), value);
        } catch (err) {
          throw new Error(`resources.${field}: cannot write ${value} to ${join(dir, file)}: ${(err as Error).message}`);
        }
      }
      this.procsFd = openSync(join(dir, 'cgroup.procs'), 'w');
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  /** The fd is the child's only: closed in keel once the child has it. */
  closeFd(): void {
    if (this.procsFd !== undefined) closeSync(this.procsFd);
    this.procsFd = undefined;
  }

  /** Kills what is left in it (cgroup.kill), waits up to `ms` for it to empty, and removes it. */
  async release(ms = 2000): Promise<void> {
    this.closeFd();
    if (cgroupPids(this.path).length > 0) signalCgroup(this.path, 'SIGKILL');
    for (const end = performance.now() + ms; cgroupPids(this.path).length > 0 && performance.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    removeCgroup(this.path, new Set());
  }

  /** As release, without waiting: for a start that failed before anything ran in it. */
  remove(): void {
    this.closeFd();
    if (cgroupPids(this.path).length > 0) signalCgroup(this.path, 'SIGKILL');
    removeCgroup(this.path, new Set());
  }
}

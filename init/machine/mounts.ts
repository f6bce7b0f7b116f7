// Mount helpers and the machine's standard mount table.
import { mkdirSync, readFileSync } from 'node:fs';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT, type Sys } from '../core/sys.js';

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  flags: number;
  data: string | null;
  mode?: number;
}

/** The filesystems every keel machine has, in mount order. */
export const MACHINE_MOUNTS: readonly MountEntry[] = [
  { source: 'proc', target: '/proc', fstype: 'proc', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: null },
  { source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: null },
  { source: 'devtmpfs', target: '/dev', fstype: 'devtmpfs', flags: MS_NOSUID, data: 'mode=0755' },
  { source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS_NOSUID | MS_NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5' },
  { source: 'shm', target: '/dev/shm', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=1777' },
  { source: 'tmpfs', target: '/run', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=0755' },
  { source: 'tmpfs', target: '/tmp', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=1777' },
  { source: 'cgroup2', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'nsdelegate' },
];

export interface MountInfo {
  /** The mount's id and its parent's (the initial rootfs is its own parent). */
  id: number;
  parent: number;
  target: string;
  fstype: string;
  options: string;
}

/** Parses /proc/self/mountinfo (ids are fields 1 and 2, the mount point field 5, fstype follows the " - "). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    const l = left?.split(' ') ?? [];
    const r = right?.split(' ') ?? [];
    const target = (l[4] ?? '').replace(/\\(\d{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    out.push({ id: Number(l[0]), parent: Number(l[1]), target, fstype: r[0] ?? '', options: l[5] ?? '' });
  }
  return out;
}

export function readMountInfo(): MountInfo[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function mountOne(sys: Sys, m: MountEntry): void {
  mkdirSync(m.target, { recursive: true, mode: m.mode ?? 0o755 });
  sys.mount(m.source, m.target, m.fstype, m.flags, m.data);
}

/** Filesystems that hold nothing to flush: left alone at shutdown. */
const VIRTUAL = new Set([
  'rootfs', 'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'cgroup', 'cgroup2', 'mqueue', 'securityfs',
  'debugfs', 'tracefs', 'bpf', 'pstore', 'hugetlbfs', 'fusectl', 'configfs', 'efivarfs', 'binfmt_misc', 'nsfs',
]);

/**
 * Unmounts every writable filesystem that holds data, innermost first; one
 * that is busy is remounted read-only instead so its data is safe.
 */
export function unmountWritable(sys: Sys): string {
  const mounts = readMountInfo().filter((m) => !VIRTUAL.has(m.fstype) && m.target !== '/' && m.options.split(',').includes('rw'));
  const done: string[] = [];
  for (const m of mounts.reverse()) {
    try {
      sys.umount2(m.target, 0);
      done.push(`unmounted ${m.target}`);
    } catch {
      try {
        sys.mount(null, m.target, null, MS_REMOUNT | MS_RDONLY, null);
        done.push(`remounted ${m.target} read-only`);
      } catch {
        sys.umount2(m.target, MNT_DETACH);
        done.push(`detached ${m.target}`);
      }
    }
  }
  return done.length ? done.join(', ') : '';
}

// Moving the root out of the initramfs. runc needs pivot_root(2), which the
// kernel refuses on the initial rootfs (docs/architecture.md, "runc needs
// pivot_root"). The kernel refuses it because rootfs has no parent mount,
// not because of what it holds: a bind mount of / moved over / has one.
// So keel binds / onto a directory, moves that mount over /, and chroots
// into it, all in this process: nothing is copied and Node starts once.
// If that fails (or keel.root=copy asks for it), the older way: copy the
// tree into a tmpfs, deleting each file from the initramfs as it is
// copied, make the tmpfs the root and execute keel-init again there.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { MACHINE_MOUNTS, mountOne, parseMountInfo } from './mounts.js';
import { MNT_DETACH, MS_BIND, MS_MOVE, MS_NOSUID, MS_REC, type Sys } from '../core/sys.js';

const NEW_ROOT = '/.keel-root';
const SKIP = new Set(['/proc', '/sys', '/dev', NEW_ROOT]);
const PROC = MACHINE_MOUNTS[0]!;
/** Set in the environment of the keel-init that the copy re-executes, so it can say which way the root went. */
const COPIED_ENV = 'KEEL_ROOT_COPIED';

/** How keel-init left the initramfs: moved in place, copied to a tmpfs, or not needed (the root was never the initramfs). */
export type RootWay = 'moved' | 'copied' | 'none';

/**
 * True while / is still the kernel's initial rootfs (needs /proc mounted).
 * rootfs is the one mount that is its own parent; a bind of it moved over
 * / is still of type rootfs, but has a parent.
 */
export function rootIsInitramfs(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  const root = parseMountInfo(mountinfo).filter((m) => m.target === '/');
  const top = root[root.length - 1];
  return top !== undefined && top.fstype === 'rootfs' && top.id === top.parent;
}

/** The way asked for on the kernel command line: keel.root=copy forces the copy (to test it), anything else moves. */
export function rootWayAsked(cmdline: string): 'move' | 'copy' {
  let way: 'move' | 'copy' = 'move';
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith('keel.root=')) way = word.slice('keel.root='.length) === 'copy' ? 'copy' : 'move';
  return way;
}

/** The copy's reason when nobody's move failed: the command line asked for it. */
export const COPY_ASKED = 'keel.root=copy on the kernel command line';

export interface RootLeft {
  way: RootWay;
  /** How long leaving took (the copy's, measured before its exec). */
  ms: number;
  /** Why the copy: COPY_ASKED, or the error that made the move fail. */
  why?: string;
}

/**
 * Leaves the initramfs, in machine mode before anything else. The move
 * returns here; the copy does not (it executes keel-init again, which then
 * returns 'copied' from here). Throws when neither way worked.
 */
export function leaveInitramfs(sys: Sys): RootLeft {
  const t0 = performance.now();
  if (!existsSync('/proc/self')) mountOne(sys, PROC);
  const copied = process.env[COPIED_ENV];
  if (copied !== undefined) {
    delete process.env[COPIED_ENV]; // keel's own note: not for the programs it runs
    const [ms, ...why] = copied.split(' ');
    return { way: 'copied', ms: Number(ms), why: why.join(' ') };
  }
  if (!rootIsInitramfs()) return { way: 'none', ms: 0 };
  let why = COPY_ASKED;
  if (rootWayAsked(readFileSync('/proc/cmdline', 'utf8')) === 'move') {
    try {
      moveRoot(sys);
      return { way: 'moved', ms: Math.round(performance.now() - t0) };
    } catch (err) {
      why = `moving it failed: ${(err as Error).message}`;
    }
  }
  copyRootAndReexec(sys, why, t0);
}

/**
 * / bound onto NEW_ROOT, that mount moved over /, and a chroot into it (the
 * shell's `mount --rbind / /.r; cd /.r; mount --move . /; chroot .`). The
 * chroot is the whole process's: Node's threads share its filesystem root.
 * /proc is unmounted first and mounted again inside, so no copy of it stays
 * behind under the hidden initramfs root.
 */
function moveRoot(sys: Sys): void {
  sys.umount2('/proc', MNT_DETACH);
  let bound = false;
  try {
    mkdirSync(NEW_ROOT, { recursive: true });
    sys.mount('/', NEW_ROOT, null, MS_BIND | MS_REC, null);
    bound = true;
    process.chdir(NEW_ROOT);
    sys.mount(NEW_ROOT, '/', null, MS_MOVE, null);
  } catch (err) {
    // Back to where it started, so the copy finds the initramfs as it was.
    process.chdir('/');
    if (bound) sys.umount2(NEW_ROOT, MNT_DETACH);
    mountOne(sys, PROC);
    throw err;
  }
  sys.chroot('.');
  process.chdir('/');
  mountOne(sys, PROC);
  try {
    rmdirSync(NEW_ROOT); // the mount point, an empty directory of the initramfs
  } catch {
    /* left behind: harmless */
  }
}

/** Moves the tree at `from` into `to`, deleting what it copied. Device nodes are skipped (devtmpfs provides them). */
function moveTree(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (SKIP.has(src)) continue;
    const dst = join(to, name);
    const st = lstatSync(src);
    if (st.isDirectory()) {
      mkdirSync(dst, { mode: st.mode & 0o7777 });
      moveTree(src, dst);
      chmodSync(dst, st.mode & 0o7777);
      lchownSync(dst, st.uid, st.gid);
      rmdirSync(src);
      continue;
    }
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else if (st.isFile()) {
      copyFileSync(src, dst);
      chmodSync(dst, st.mode & 0o7777);
    } else {
      unlinkSync(src);
      continue;
    }
    lchownSync(dst, st.uid, st.gid);
    unlinkSync(src);
  }
}

/**
 * Copies / into a new tmpfs, moves that over /, chroots into it and
 * executes this same program again. Returns only on failure (it throws).
 */
function copyRootAndReexec(sys: Sys, why: string, t0: number): never {
  mkdirSync(NEW_ROOT, { recursive: true });
  sys.mount('tmpfs', NEW_ROOT, 'tmpfs', 0, 'mode=0755');
  moveTree('/', NEW_ROOT);
  for (const dir of ['proc', 'sys', 'dev']) mkdirSync(join(NEW_ROOT, dir), { recursive: true });
  // The new node checks fds 0-2 at start and, if one is closed, opens
  // /dev/null in their place or aborts: the new root needs its /dev now.
  sys.mount('devtmpfs', join(NEW_ROOT, 'dev'), 'devtmpfs', MS_NOSUID, 'mode=0755');
  sys.umount2('/proc', MNT_DETACH);
  process.chdir(NEW_ROOT);
  sys.mount(NEW_ROOT, '/', null, MS_MOVE, null);
  sys.chroot('.');
  process.chdir('/');
  const env = [...Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`), `${COPIED_ENV}=${Math.round(performance.now() - t0)} ${why}`];
  return sys.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
}

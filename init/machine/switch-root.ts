// Moving the root out of the initramfs. runc needs pivot_root(2), which the
// kernel refuses on the initial rootfs (docs/architecture.md, "runc needs pivot_root"), so keel copies
// the initramfs into a tmpfs, makes that the root, and executes itself again
// there. Files are deleted from the initramfs as they are copied, so memory
// holds one copy at a time, not two.
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { readMountInfo } from './mounts.js';
import { MNT_DETACH, MS_MOVE, MS_NOSUID, type Sys } from '../core/sys.js';

const NEW_ROOT = '/.keel-root';
const SKIP = new Set(['/proc', '/sys', '/dev', NEW_ROOT]);

/** True while / is still the kernel's initial rootfs (needs /proc mounted). */
export function rootIsInitramfs(): boolean {
  const root = readMountInfo().filter((m) => m.target === '/');
  return root.length > 0 && root[root.length - 1]!.fstype === 'rootfs';
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
export function switchRootAndReexec(sys: Sys): never {
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
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
  return sys.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
}

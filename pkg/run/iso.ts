// `keel run` of an iso-bios image: qemu boots it from a CD drive, and the
// kernel and initrd are read back out of the ISO for the KVM probe and the
// memory check.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../image/cache.js';
import { ISO_INITRD, ISO_KERNEL, findIsoFile, type IsoExtent } from '../image/iso.js';
import { BuildError } from '../image/kernel.js';

/** Boot from the CD drive first, whatever disks are attached too. */
export function isoBootArgs(iso: string): string[] {
  return ['-cdrom', iso, '-boot', 'order=d'];
}

function extentOf(iso: string, path: string): IsoExtent {
  const e = findIsoFile(iso, path);
  if (!e) throw new BuildError(`${iso} has no /${path}; is it an iso-bios image from "keel build"?`);
  return e;
}

/** Where the initrd sits inside the ISO (for minimumMemoryMb). */
export function isoInitrd(iso: string): IsoExtent {
  return extentOf(iso, ISO_INITRD);
}

/**
 * The ISO's kernel as a file of its own, for the KVM probe (which boots a
 * bare kernel). Kept in the cache under its content hash, so rebuilt ISOs
 * with the same kernel share one copy and one cached probe result.
 */
export function isoProbeKernel(iso: string): string {
  const { offset, size } = extentOf(iso, ISO_KERNEL);
  const kernel = Buffer.alloc(size);
  const fd = openSync(iso, 'r');
  try {
    if (readSync(fd, kernel, 0, size, offset) !== size) throw new BuildError(`${iso} ends inside /${ISO_KERNEL}`);
  } finally {
    closeSync(fd);
  }
  const dir = join(cacheDir(), 'iso-kernels');
  const out = join(dir, `${createHash('sha256').update(kernel).digest('hex').slice(0, 32)}.bzImage`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, kernel);
  renameSync(tmp, out); // never a half-written kernel under the final name
  return out;
}

// `keel run` of an iso-bios image: qemu boots it from a CD drive, and the
// kernel and initrd are read back out of the ISO for the KVM probe and the
// memory check.
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { cacheDir } from '../build/cache.js';
import { ISO_INITRD, ISO_KERNEL, findIsoFile, type IsoExtent } from '../build/iso.js';
import { BuildError } from '../build/kernel.js';

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
 * bare kernel): copied once into the cache, keyed by the ISO's path, size and mtime.
 */
export function isoProbeKernel(iso: string): string {
  const st = statSync(iso);
  const key = createHash('sha256').update(`${resolve(iso)}:${st.size}:${Math.round(st.mtimeMs)}`).digest('hex').slice(0, 16);
  const dir = join(cacheDir(), 'iso-kernels');
  const out = join(dir, `${key}.bzImage`);
  if (existsSync(out)) return out;
  const { offset, size } = extentOf(iso, ISO_KERNEL);
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const from = openSync(iso, 'r');
  const to = openSync(tmp, 'w');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let done = 0; done < size; ) {
      const n = readSync(from, buf, 0, Math.min(buf.length, size - done), offset + done);
      if (n === 0) throw new BuildError(`${iso} ends inside /${ISO_KERNEL}`);
      writeSync(to, buf, 0, n);
      done += n;
    }
  } finally {
    closeSync(from);
    closeSync(to);
  }
  renameSync(tmp, out);
  return out;
}

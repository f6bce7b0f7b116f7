// The least memory an image boots in: the kernel unpacks the initramfs
// (keel-init then moves the root in place; its fallback copies it into a
// tmpfs file by file, deleting as it goes), so about the unpacked size plus
// the compressed initrd, held until it is unpacked, plus room for the kernel,
// node and the containers. The unpacked size comes from the initrd's own
// headers (pkg/image/initrd-size.ts); where they do not say, a guess.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { unpackedSize, unpackedSizeOf } from '../image/initrd-size.js';
import { readFdAt } from './read-at.js';

/** An initrd whose format does not say is assumed to unpack to 3x its size, a generous figure for an initramfs. */
function memoryMb(size: number, unpacked: number | undefined): number {
  return Math.ceil(((unpacked ?? size * 3) + size) / 2 ** 20) + 192;
}

/** For an initrd in memory (inside a UKI or a disk's boot partition). */
export function initrdMemoryMb(initrd: Buffer): number {
  return memoryMb(initrd.length, unpackedSizeOf(initrd));
}

/** The same for an initrd in a file, or at `at` inside one (an ISO). */
export function minimumMemoryMb(initrd: string, at?: { offset: number; size: number }): number {
  const fd = openSync(initrd, 'r');
  try {
    const size = at?.size ?? fstatSync(fd).size;
    const start = at?.offset ?? 0;
    return memoryMb(size, unpackedSize(size, (o, n) => readFdAt(fd, start + o, Math.max(0, Math.min(n, size - o)))));
  } finally {
    closeSync(fd);
  }
}

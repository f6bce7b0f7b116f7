// The least memory an image boots in: the kernel unpacks the initramfs, and
// keel-init copies it into a tmpfs (moving file by file), so about the
// unpacked size plus room for the kernel, node and the containers. The
// unpacked size is gzip's trailer (ISIZE, the size mod 2^32).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** From the initrd's size, its first 2 bytes and its last 4. */
export function initrdMemoryMb(size: number, head: Buffer, tail: Buffer): number {
  const isize = tail.readUInt32LE(0);
  // Not gzip (zstd, xz, or an initrd from another tool): its trailer means nothing,
  // so assume it unpacks to 3× its size, a generous figure for an initramfs.
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const unpacked = gzip && isize >= size ? isize : size * 3;
  return Math.ceil((unpacked + size) / 2 ** 20) + 192;
}

/** The same for an initrd in a file, or at `at` inside one (an ISO). */
export function minimumMemoryMb(initrd: string, at?: { offset: number; size: number }): number {
  const fd = openSync(initrd, 'r');
  try {
    const size = at?.size ?? fstatSync(fd).size;
    const start = at?.offset ?? 0;
    const head = Buffer.alloc(2);
    const tail = Buffer.alloc(4);
    readSync(fd, head, 0, 2, start);
    readSync(fd, tail, 0, 4, start + size - 4);
    return initrdMemoryMb(size, head, tail);
  } finally {
    closeSync(fd);
  }
}

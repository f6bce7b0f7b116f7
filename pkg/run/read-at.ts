// Reading a few bytes at an offset: how keel run looks into images
// (magic numbers, partition tables, boot catalogs) without reading them whole.
import { closeSync, openSync, readSync } from 'node:fs';

/** Up to `n` bytes at `at` from an open file (fewer at its end). */
export function readFdAt(fd: number, at: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  return b.subarray(0, readSync(fd, b, 0, n, at));
}

/** Up to `n` bytes at `at` from a file (fewer at its end). */
export function readAt(file: string, at: number, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    return readFdAt(fd, at, n);
  } finally {
    closeSync(fd);
  }
}

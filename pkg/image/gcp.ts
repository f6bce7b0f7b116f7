// The gcp output: what Google Compute Engine imports as an image, a
// gzip'd tar holding exactly one file, disk.raw, whose size is a whole
// number of GiB, in GNU's old tar format with the zero blocks stored as
// holes (the form Google's import instructions give: tar --format=oldgnu -S).
// The archive is written here: holes are found by reading for zeros, not by
// asking the file system, so the same disk gives the same bytes anywhere;
// dates are the build's, and gzip stores no name or date.
import { closeSync, createWriteStream, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** The one name Compute Engine looks for in the archive. */
export const GCP_DISK_NAME = 'disk.raw';
/** Compute Engine wants the raw disk's size to be a whole number of GiB. */
export const GCP_DISK_UNIT = 2 ** 30;

const BLOCK = 512;
const CHUNK = 2 ** 20;
/** Sparse entries in the header itself, and in each extension block after it. */
const IN_HEADER = 4;
const PER_EXTENSION = 21;

interface Segment {
  offset: number;
  size: number;
}

/** The runs of the file that are not all zeros, in 512-byte blocks. */
function dataSegments(fd: number, size: number): Segment[] {
  const segments: Segment[] = [];
  const zero = Buffer.alloc(CHUNK);
  const buf = Buffer.alloc(CHUNK);
  for (let at = 0; at < size; at += CHUNK) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK, size - at), at);
    if (buf.compare(zero, 0, n, 0, n) === 0) continue; // most of a disk: one comparison per MiB
    for (let i = 0; i < n; i += BLOCK) {
      const end = Math.min(i + BLOCK, n);
      if (buf.compare(zero, 0, end - i, i, end) === 0) continue;
      const last = segments[segments.length - 1];
      if (last && last.offset + last.size === at + i) last.size += end - i;
      else segments.push({ offset: at + i, size: end - i });
    }
  }
  // GNU tar ends the map with an empty run at the file's end when the file ends in a hole.
  const last = segments[segments.length - 1];
  if (!last || last.offset + last.size < size) segments.push({ offset: size, size: 0 });
  return segments;
}

/** A numeric field: octal when it fits (NUL-terminated), else GNU's base-256 (high bit set). */
function numeric(b: Buffer, at: number, width: number, n: number): void {
  const oct = n.toString(8);
  if (oct.length < width) {
    b.write(oct.padStart(width - 1, '0'), at, 'latin1');
    return;
  }
  b[at] = 0x80;
  for (let i = width - 1, v = BigInt(n); i > 0; i--, v >>= 8n) b[at + i] = Number(v & 0xffn);
}

function sparseEntries(b: Buffer, at: number, list: readonly Segment[]): void {
  list.forEach((s, i) => {
    numeric(b, at + i * 24, 12, s.offset);
    numeric(b, at + i * 24 + 12, 12, s.size);
  });
}

/** The header block (type S, old GNU magic) and its extension blocks for the sparse map. */
function headerBlocks(name: string, realSize: number, segments: readonly Segment[], epoch: number): Buffer[] {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'latin1');
  numeric(h, 100, 8, 0o644);
  numeric(h, 108, 8, 0);
  numeric(h, 116, 8, 0);
  numeric(h, 124, 12, segments.reduce((n, s) => n + s.size, 0));
  numeric(h, 136, 12, epoch);
  h[156] = 'S'.charCodeAt(0);
  h.write('ustar  \0', 257, 'latin1');
  sparseEntries(h, 386, segments.slice(0, IN_HEADER));
  const rest = segments.slice(IN_HEADER);
  h[482] = rest.length ? 1 : 0;
  numeric(h, 483, 12, realSize);
  h.fill(' ', 148, 156); // the checksum is summed with its own field as spaces
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const blocks = [h];
  for (let i = 0; i < rest.length; i += PER_EXTENSION) {
    const e = Buffer.alloc(BLOCK);
    sparseEntries(e, 0, rest.slice(i, i + PER_EXTENSION));
    e[504] = i + PER_EXTENSION < rest.length ? 1 : 0;
    blocks.push(e);
  }
  return blocks;
}

function* archive(fd: number, epoch: number): Generator<Buffer> {
  const size = fstatSync(fd).size;
  const segments = dataSegments(fd, size);
  yield* headerBlocks(GCP_DISK_NAME, size, segments, epoch);
  let stored = 0;
  for (const s of segments) {
    for (let at = 0; at < s.size; at += CHUNK) {
      const b = Buffer.alloc(Math.min(CHUNK, s.size - at));
      readSync(fd, b, 0, b.length, s.offset + at);
      yield b;
    }
    stored += s.size;
  }
  yield Buffer.alloc((BLOCK - (stored % BLOCK)) % BLOCK);
  yield Buffer.alloc(2 * BLOCK); // end of archive
}

/** Writes DIR/disk.raw as a .tar.gz to `out`. */
export async function writeGcpArchive(dir: string, out: string, epoch: number): Promise<void> {
  const fd = openSync(join(dir, GCP_DISK_NAME), 'r');
  try {
    // Level 1: the disk's data is mostly the initrd, gzip'd already; level 9 saved 0.04% here at twice the time.
    await pipeline(Readable.from(archive(fd, epoch)), createGzip({ level: 1 }), createWriteStream(out));
  } finally {
    closeSync(fd);
  }
}

// How many bytes an initrd unpacks to, read from its own headers where the
// format says: uncompressed cpio archives (microcode) by walking them, zstd
// frames by the content size in each frame's header (keel build writes it),
// one gzip member by its trailer, lz4's legacy format (which does not say)
// as 8 MiB a block, but for each stream's last block, whose sequences are
// read for their lengths. A gzip of several members does not say; then the
// answer is undefined.

/** Up to `n` bytes at `at` (fewer at the end). */
export type ReadAt = (at: number, n: number) => Buffer;

const ZSTD_MAGIC = 0xfd2fb528;
const NEWC = '070701';
const LZ4_LEGACY_MAGIC = 0x184c2102;
/** Every block of lz4's legacy format but each stream's last unpacks to exactly this. */
const LZ4_LEGACY_BLOCK = 8 << 20;

/** What an lz4 block unpacks to, from its sequences' lengths (a token, literals, a 2-byte offset, a match). */
export function lz4BlockSize(block: Buffer): number {
  let out = 0;
  let p = 0;
  const length = (n: number): number => {
    if (n !== 15) return n;
    for (let x = 255; x === 255 && p < block.length; n += x) x = block[p++]!;
    return n;
  };
  while (p < block.length) {
    const token = block[p++]!;
    const literals = length(token >> 4);
    p += literals;
    out += literals;
    if (p >= block.length) break; // the last sequence is literals only
    p += 2;
    out += length(token & 15) + 4;
  }
  return out;
}

/** Walks the newc archives at `at`; returns where what follows them starts (their zero padding skipped). */
function skipCpio(readAt: ReadAt, size: number, at: number): number {
  while (at < size && readAt(at, 6).toString('latin1') === NEWC) {
    for (;;) {
      const h = readAt(at, 110).toString('latin1');
      const nameSize = parseInt(h.slice(94, 102), 16);
      const fileSize = parseInt(h.slice(54, 62), 16);
      if (!(nameSize > 0) || !(fileSize >= 0)) return at; // not an archive after all
      const name = readAt(at + 110, nameSize - 1).toString('latin1');
      at = (((at + 110 + nameSize + 3) & ~3) + fileSize + 3) & ~3;
      if (name === 'TRAILER!!!') break;
    }
    for (;;) {
      const chunk = readAt(at, 512);
      const nonZero = chunk.findIndex((b) => b !== 0);
      if (nonZero >= 0 || chunk.length === 0) {
        at += nonZero >= 0 ? nonZero : 0;
        break;
      }
      at += chunk.length;
    }
  }
  return at;
}

/** One zstd frame at `at`: its content size (undefined when the header does not carry it) and where it ends. */
function zstdFrame(readAt: ReadAt, at: number): { content: number | undefined; end: number } {
  const magic = readAt(at, 4).readUInt32LE(0);
  // Skippable frames (0x184D2A50-5F): a 4-byte size, then that many bytes.
  if ((magic & 0xfffffff0) === 0x184d2a50) return { content: 0, end: at + 8 + readAt(at + 4, 4).readUInt32LE(0) };
  if (magic !== ZSTD_MAGIC) throw new Error('not a zstd frame');
  const fhd = readAt(at + 4, 1)[0]!;
  const single = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = [single, 2, 4, 8][fcsFlag]!;
  let p = at + 5 + (single ? 0 : 1) + dictBytes;
  const f = readAt(p, fcsBytes);
  const content = fcsBytes === 0 ? undefined : fcsBytes === 1 ? f[0]! : fcsBytes === 2 ? f.readUInt16LE(0) + 256 : fcsBytes === 4 ? f.readUInt32LE(0) : Number(f.readBigUInt64LE(0));
  p += fcsBytes;
  for (;;) {
    const b = readAt(p, 3);
    if (b.length < 3) throw new Error('a zstd frame cut short');
    const header = b[0]! | (b[1]! << 8) | (b[2]! << 16);
    const type = (header >> 1) & 3;
    p += 3 + (type === 1 ? 1 : header >>> 3); // an RLE block holds one byte, repeated
    if (header & 1) break;
  }
  if ((fhd >> 2) & 1) p += 4; // the content checksum
  return { content, end: p };
}

export interface CompressedPart {
  method: 'zstd' | 'lz4';
  start: number;
  end: number;
  /** What it unpacks to; undefined for a zstd frame whose header does not say. */
  content: number | undefined;
}

/**
 * The zstd frames and lz4 streams from `start` to the end, as keel build
 * concatenates them (mixed: zstd, then lz4 last); each with where it starts
 * and ends and what it unpacks to. Throws on anything else.
 */
export function compressedParts(size: number, readAt: ReadAt, start: number): CompressedPart[] {
  const parts: CompressedPart[] = [];
  for (let at = start; at < size; ) {
    const magic = readAt(at, 4).readUInt32LE(0);
    if (magic === LZ4_LEGACY_MAGIC) {
      // Blocks (a 4-byte length, then the block) to the end; another stream's magic may start anywhere among them.
      let content = 0;
      for (let p = at + 4; p < size; ) {
        const n = readAt(p, 4).readUInt32LE(0);
        p += 4;
        if (n === LZ4_LEGACY_MAGIC) continue;
        if (p + n > size) throw new Error('an lz4 block cut short');
        const last = p + n >= size || readAt(p + n, 4).readUInt32LE(0) === LZ4_LEGACY_MAGIC;
        content += last ? lz4BlockSize(readAt(p, n)) : LZ4_LEGACY_BLOCK;
        p += n;
      }
      parts.push({ method: 'lz4', start: at, end: size, content });
      break;
    }
    const frame = zstdFrame(readAt, at);
    parts.push({ method: 'zstd', start: at, end: frame.end, content: frame.content });
    at = frame.end;
  }
  return parts;
}

/** The unpacked size of an initrd of `size` bytes, or undefined when its format does not say. */
export function unpackedSize(size: number, readAt: ReadAt): number | undefined {
  const start = skipCpio(readAt, size, 0);
  if (start >= size) return start;
  const head = readAt(start, 4);
  const magic = head.length === 4 ? head.readUInt32LE(0) : 0;
  if (magic === ZSTD_MAGIC || magic === LZ4_LEGACY_MAGIC) {
    let total = start;
    try {
      for (const part of compressedParts(size, readAt, start)) {
        if (part.content === undefined) return undefined;
        total += part.content;
      }
    } catch {
      return undefined;
    }
    return total;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    // ISIZE is the last member's size mod 2^32: right for one member, too small for several (then unknown).
    const isize = readAt(size - 4, 4).readUInt32LE(0);
    return isize >= size - start ? start + isize : undefined;
  }
  return undefined;
}

/** The same for an initrd in memory. */
export function unpackedSizeOf(initrd: Buffer): number | undefined {
  return unpackedSize(initrd.length, (at, n) => initrd.subarray(at, at + n));
}

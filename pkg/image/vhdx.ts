// Makes a VHDX that qemu-img wrote reproducible. qemu-img draws the
// headers' write GUIDs, their sequence numbers and the disk's page 83 id at
// random, and leaves a spent log entry (with a random log GUID) in the log
// region. keel derives the ids from the disk's contents, numbers the two
// headers 1 and 2, recomputes their CRC-32C, and zeroes the log region,
// which a reader ignores when the header's LogGuid is zero (MS-VHDX 2.3.1).
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { BuildError } from './kernel.js';
import { derivedUuid, guidBytes } from './reproducible.js';

const KIB = 1024;
const HEADERS = [64 * KIB, 128 * KIB];
const HEADER_BYTES = 4 * KIB;
const REGION_TABLE = 192 * KIB;
const METADATA_REGION = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const PAGE83_ITEM = 'BECA12AB-B2E6-4523-93EF-C309E000C746';

/** CRC-32C (Castagnoli), the checksum VHDX headers and region tables carry. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(b: Buffer): number {
  let c = 0xffffffff;
  for (const byte of b) c = CRC32C_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function readAt(fd: number, at: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, at);
  return b;
}

/** Where the page 83 id lives: the metadata region (from the region table), then its table of items. */
function page83Offset(fd: number, file: string): number {
  const table = readAt(fd, REGION_TABLE, 64 * KIB);
  if (table.toString('latin1', 0, 4) !== 'regi') throw new BuildError(`${file}: no VHDX region table`);
  const want = guidBytes(METADATA_REGION);
  let region = -1;
  for (let i = 0; i < table.readUInt32LE(8); i++) {
    const e = 16 + i * 32;
    if (table.subarray(e, e + 16).equals(want)) region = Number(table.readBigUInt64LE(e + 16));
  }
  if (region < 0) throw new BuildError(`${file}: no VHDX metadata region`);
  const meta = readAt(fd, region, 64 * KIB);
  const item = guidBytes(PAGE83_ITEM);
  for (let i = 0; i < meta.readUInt16LE(10); i++) {
    const e = 32 + i * 32;
    if (meta.subarray(e, e + 16).equals(item)) return region + meta.readUInt32LE(e + 16);
  }
  throw new BuildError(`${file}: no page 83 id in the VHDX metadata`);
}

/** Rewrites the random parts of a VHDX from `seed`, in place. */
export function settleVhdx(file: string, seed: string): void {
  const fd = openSync(file, 'r+');
  try {
    if (readAt(fd, 0, 8).toString('latin1') !== 'vhdxfile') throw new BuildError(`${file} is not a VHDX file`);
    HEADERS.forEach((at, i) => {
      const h = readAt(fd, at, HEADER_BYTES);
      if (h.toString('latin1', 0, 4) !== 'head') throw new BuildError(`${file}: VHDX header ${i + 1} is missing`);
      if (!h.subarray(48, 64).equals(Buffer.alloc(16))) throw new BuildError(`${file}: the VHDX has a log to replay; it was not closed cleanly`);
      h.writeBigUInt64LE(BigInt(i + 1), 8);
      guidBytes(derivedUuid(`${seed}/vhdx-file-write`)).copy(h, 16);
      guidBytes(derivedUuid(`${seed}/vhdx-data-write`)).copy(h, 32);
      h.writeUInt32LE(0, 4);
      h.writeUInt32LE(crc32c(h), 4);
      writeSync(fd, h, 0, HEADER_BYTES, at);
      if (i === 0) {
        const logLength = h.readUInt32LE(68);
        const logOffset = Number(h.readBigUInt64LE(72));
        writeSync(fd, Buffer.alloc(logLength), 0, logLength, logOffset);
      }
    });
    writeSync(fd, guidBytes(derivedUuid(`${seed}/vhdx-page83`)), 0, 16, page83Offset(fd, file));
  } finally {
    closeSync(fd);
  }
}

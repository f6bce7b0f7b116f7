// Reading back what keel build wrote: an initrd is optional uncompressed
// cpio archives (microcode) and then compressed ones (zstd, gzip or lz4,
// several concatenated; mixed: zstd, then lz4), each holding newc cpio archives one after another,
// as the kernel unpacks them. GNU cpio stops at the first archive's end, so
// the tests read the archives here.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { compressedParts } from '../../pkg/image/initrd-size.js';

export interface InitrdEntry {
  path: string;
  mode: number;
  data: Buffer;
}

const HEADER = 110;
const pad4 = (n: number) => (n + 3) & ~3;

/** The uncompressed archives at the start of `buf` (microcode), and where what follows them starts. */
function leadingCpio(buf: Buffer): number {
  let at = 0;
  while (buf.toString('latin1', at, at + 6) === '070701') {
    at = walkCpio(buf, at, () => {});
    while (at < buf.length && buf[at] === 0) at++;
  }
  return at;
}

/** Walks one archive from `at`, handing each entry on; returns the offset after its trailer. */
function walkCpio(buf: Buffer, at: number, each: (e: InitrdEntry) => void): number {
  for (;;) {
    const field = (i: number) => parseInt(buf.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const nameSize = field(11);
    const size = field(6);
    const path = buf.toString('utf8', at + HEADER, at + HEADER + nameSize - 1);
    const dataAt = pad4(at + HEADER + nameSize);
    at = pad4(dataAt + size);
    if (path === 'TRAILER!!!') return at;
    each({ path, mode: field(1), data: buf.subarray(dataAt, dataAt + size) });
  }
}

function unpackWith(tool: string, packed: Buffer): Buffer {
  const r = spawnSync(tool, ['-d', '-c', '-q'], { input: packed, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${tool} -d: ${r.stderr.toString()}`);
  return r.stdout;
}

/** gzip, or zstd frames and lz4 streams (--compress mixed puts node's lz4 archive after the zstd ones). */
function decompress(packed: Buffer): Buffer {
  if (packed.length === 0) return packed;
  if (packed[0] === 0x1f && packed[1] === 0x8b) return gunzipSync(packed);
  let parts;
  try {
    parts = compressedParts(packed.length, (at, n) => packed.subarray(at, at + n), 0);
  } catch {
    throw new Error(`not an initrd keel writes (magic ${packed.subarray(0, 4).toString('hex')})`);
  }
  // One run of each tool: zstd and lz4 each read their concatenated frames themselves.
  const runs: Array<{ method: string; start: number; end: number }> = [];
  for (const p of parts) {
    const last = runs[runs.length - 1];
    if (last && last.method === p.method) last.end = p.end;
    else runs.push({ ...p });
  }
  return Buffer.concat(runs.map((r) => unpackWith(r.method, packed.subarray(r.start, r.end))));
}

/** The initrd's cpio stream, uncompressed (what the kernel unpacks after any microcode). */
export function initrdCpio(initrd: string | Buffer): Buffer {
  const buf = typeof initrd === 'string' ? readFileSync(initrd) : initrd;
  return decompress(buf.subarray(leadingCpio(buf)));
}

/** Every entry of the initrd, archive after archive, in order. */
export function initrdEntries(initrd: string | Buffer): InitrdEntry[] {
  const cpio = initrdCpio(initrd);
  const out: InitrdEntry[] = [];
  let at = 0;
  while (at < cpio.length) {
    at = walkCpio(cpio, at, (e) => out.push(e));
    while (at < cpio.length && cpio[at] === 0) at++;
  }
  return out;
}

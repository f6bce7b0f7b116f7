// Reading back what keel build wrote: an initrd is optional uncompressed
// cpio archives (microcode) and then compressed ones (zstd, gzip or lz4,
// several concatenated), each holding newc cpio archives one after another,
// as the kernel unpacks them. GNU cpio stops at the first archive's end, so
// the tests read the archives here.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

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

function decompress(packed: Buffer): Buffer {
  if (packed.length === 0) return packed;
  if (packed[0] === 0x1f && packed[1] === 0x8b) return gunzipSync(packed);
  const tool = packed.readUInt32LE(0) === 0xfd2fb528 ? 'zstd' : packed.readUInt32LE(0) === 0x184c2102 ? 'lz4' : undefined;
  if (!tool) throw new Error(`not an initrd keel writes (magic ${packed.subarray(0, 4).toString('hex')})`);
  const r = spawnSync(tool, ['-d', '-c', '-q'], { input: packed, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${tool} -d: ${r.stderr.toString()}`);
  return r.stdout;
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

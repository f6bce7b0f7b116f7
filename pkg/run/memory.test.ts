import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { minimumMemoryMb } from './memory.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the memory an initrd needs', () => {
  it('is its unpacked size (gzip trailer) plus the compressed size plus room', () => {
    const data = Buffer.alloc(64 * 2 ** 20, 1);
    writeFileSync(join(dir, 'a.img'), gzipSync(data));
    expect(minimumMemoryMb(join(dir, 'a.img'))).toBe(64 + 1 + 192);
  });

  it('is a generous guess for an initrd that is not gzip, instead of a number read from garbage', () => {
    // zstd's magic, then bytes whose "trailer" would claim about 4 GiB.
    const fake = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(2 ** 20 - 8, 7), Buffer.from([0xff, 0xff, 0xff, 0xf0])]);
    writeFileSync(join(dir, 'b.img'), fake);
    expect(minimumMemoryMb(join(dir, 'b.img'))).toBe(4 + 192);
  });
});

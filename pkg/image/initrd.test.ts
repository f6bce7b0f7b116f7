import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initrdCpio, initrdEntries } from '../../test/helpers/initrd.js';
import { buildCpio, normalizeEntries, type CpioEntry } from './cpio.js';
import { compressInitrd, splitEntries, type Compression } from './initrd.js';
import { compressedParts, unpackedSizeOf } from './initrd-size.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-initrd-'));
const saved = process.env.KEEL_CACHE;
beforeAll(() => (process.env.KEEL_CACHE = join(dir, 'cache')));
afterAll(() => {
  if (saved === undefined) delete process.env.KEEL_CACHE;
  else process.env.KEEL_CACHE = saved;
  rmSync(dir, { recursive: true, force: true });
});

const noise = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 7)) & 0xff));
const ROOT: CpioEntry[] = [
  { path: '/etc/hostname', type: 'file', mode: 0o644, data: Buffer.from('box\n') },
  { path: '/usr/bin/big', type: 'file', mode: 0o755, data: noise(3 << 20, 7) },
  { path: '/usr/bin/small', type: 'file', mode: 0o755, data: noise(4000, 3) },
  { path: '/usr/lib/keel/a.js', type: 'file', mode: 0o644, data: Buffer.from('x'.repeat(5000)) },
  { path: '/bin/sh', type: 'symlink', target: 'busybox' },
  { path: '/dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
];

describe('the initramfs, compressed piece by piece', () => {
  it('gives a big file an archive of its own, keeps order, and cuts small files where a top directory changes past 1 MiB', () => {
    const runs = splitEntries(normalizeEntries(ROOT));
    expect(runs.flat().map((e) => e.path)).toEqual(normalizeEntries(ROOT).map((e) => e.path));
    expect(runs.find((r) => r.some((e) => e.path === 'usr/bin/big'))).toHaveLength(1);
    const many = Array.from({ length: 3 }, (_, i): CpioEntry => ({ path: `/t${i}/f`, type: 'file', mode: 0o644, data: noise(600 << 10, i + 1) }));
    expect(splitEntries(normalizeEntries(many)).map((r) => r.map((e) => e.path))).toEqual([['t0', 't0/f', 't1', 't1/f'], ['t2', 't2/f']]);
  });

  it('puts busybox and the big C libraries in one archive, after the runs that make their directories', async () => {
    const libc = noise(2 << 20, 11);
    const root: CpioEntry[] = [
      ...ROOT,
      { path: '/bin/busybox', type: 'file', mode: 0o755, data: noise(2 << 20, 5) },
      { path: '/lib/x86_64-linux-gnu/libc.so.6', type: 'file', mode: 0o755, data: libc },
      { path: '/lib/x86_64-linux-gnu/libstdc++.so.6', type: 'file', mode: 0o755, data: noise(1 << 20, 13) },
      { path: '/lib/x86_64-linux-gnu/libtiny.so.1', type: 'file', mode: 0o755, data: noise(1000, 2) },
    ];
    const runs = splitEntries(normalizeEntries(root));
    expect(runs.at(-1)!.map((e) => e.path)).toEqual(['bin/busybox', 'lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libstdc++.so.6']);
    const before = runs.slice(0, -1).flat().map((e) => e.path);
    expect(before).toEqual(expect.arrayContaining(['bin', 'lib', 'lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu/libtiny.so.1']));
    // Unpacked, the root is the same entries (the shared archive's in its place in the unpacking order).
    const back = initrdEntries(await compressInitrd(root, 'mixed'));
    expect(back.map((e) => e.path).sort()).toEqual(normalizeEntries(root).map((e) => e.path).sort());
    expect(back.find((e) => e.path === 'lib/x86_64-linux-gnu/libc.so.6')!.data.equals(libc)).toBe(true);
  });

  for (const method of ['mixed', 'zstd', 'gzip', 'lz4'] as Compression[]) {
    it(`unpacks (${method}) to exactly the entries one archive would hold`, async () => {
      const packed = await compressInitrd(ROOT, method);
      const back = initrdEntries(packed);
      const want = normalizeEntries(ROOT);
      expect(back.map((e) => e.path)).toEqual(want.map((e) => e.path));
      expect(back.find((e) => e.path === 'usr/bin/big')!.data.equals((ROOT[1] as { data: Buffer }).data)).toBe(true);
      expect(back.find((e) => e.path === 'bin/sh')!.data.toString()).toBe('busybox');
    });
  }

  it('is the same bytes every time, the second time from the cache, and says its unpacked size in its zstd headers', async () => {
    const first = await compressInitrd(ROOT, 'zstd');
    const cached = readdirSync(join(dir, 'cache', 'initrd', 'zstd-19')).length;
    expect(cached).toBeGreaterThan(1); // one archive per piece
    const second = await compressInitrd(ROOT, 'zstd');
    expect(second.equals(first)).toBe(true);
    expect(readdirSync(join(dir, 'cache', 'initrd', 'zstd-19'))).toHaveLength(cached);
    expect(unpackedSizeOf(first)).toBe(initrdCpio(first).length);
    // Microcode in front, uncompressed: counted too.
    const ucode = buildCpio([{ path: 'kernel/x86/microcode/AuthenticAMD.bin', type: 'file', mode: 0o644, data: noise(10000, 5) }]);
    expect(unpackedSizeOf(Buffer.concat([ucode, first]))).toBe(ucode.length + initrdCpio(first).length);
  });

  it("puts node's binary in lz4 after the zstd archives when mixed, and says what it unpacks to", async () => {
    const node = noise(3 << 20, 7);
    const root = [...ROOT, { path: '/usr/bin/node', type: 'file', mode: 0o755, data: node } as CpioEntry];
    const mixed = await compressInitrd(root, 'mixed');
    const parts = compressedParts(mixed.length, (at, n) => mixed.subarray(at, at + n), 0);
    expect(parts.at(-1)!.method).toBe('lz4');
    expect(parts.slice(0, -1).every((p) => p.method === 'zstd')).toBe(true);
    expect(initrdEntries(mixed).find((e) => e.path === 'usr/bin/node')!.data.equals(node)).toBe(true);
    expect(unpackedSizeOf(mixed)).toBe(initrdCpio(mixed).length);
    // Without node, mixed is zstd throughout.
    const plain = await compressInitrd(ROOT, 'mixed');
    expect(plain.equals(await compressInitrd(ROOT, 'zstd'))).toBe(true);
  });

  it('says what lz4 unpacks to, each stream and block read for its length (one stream over 8 MiB: two blocks)', async () => {
    const lz4 = await compressInitrd(ROOT, 'lz4');
    expect(unpackedSizeOf(lz4)).toBe(initrdCpio(lz4).length);
    const big = await compressInitrd([...ROOT, { path: '/usr/bin/node', type: 'file', mode: 0o755, data: noise(9 << 20, 3) }], 'mixed');
    expect(unpackedSizeOf(big)).toBe(initrdCpio(big).length);
  });

  it('does not claim a size where the headers are garbage', async () => {
    expect(unpackedSizeOf(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x07]), Buffer.alloc(100, 9)]))).toBeUndefined();
  });
});

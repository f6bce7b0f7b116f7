// The raw disk layouts with the real sfdisk, mtools and syslinux: what a
// firmware needs to find on them, where every id comes from, and what
// --size does. Small stand-ins for the kernel and initrd keep it fast; the
// real ones boot in test/vm-formats.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { diskSeed, MIB, PARTITION_START, writeRawDisk, type BootPayload } from './disk.js';
import { readFatFile } from './fat.js';
import { BuildError } from './kernel.js';
import { derivedUuid } from './reproducible.js';
import { SYSLINUX_MBR, syslinuxConfig } from './syslinux.js';
import { ukiParts } from './uki.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-disk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payload: BootPayload = {
  kernel: Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7) & 0xff)),
  initrd: gzipSync(Buffer.alloc(4 << 20, 1)),
  cmdline: 'quiet',
};

interface SfdiskTable {
  partitiontable: { label: string; id: string; partitions: Array<{ start: number; size: number; type: string; uuid?: string; bootable?: boolean }> };
}

function table(file: string): SfdiskTable['partitiontable'] {
  const r = spawnSync('sfdisk', ['--json', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as SfdiskTable).partitiontable;
}

function fatListing(file: string): string {
  const r = spawnSync('mdir', ['-a', '-i', `${file}@@${PARTITION_START}`, '::'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('the bios layout', () => {
  const disk = join(dir, 'bios.img');
  const bytes = writeRawDisk(disk, payload, { firmware: 'bios' });

  it('is an MBR with syslinux boot code and one active FAT32 partition at 1 MiB, nothing more', () => {
    const t = table(disk);
    expect(t.label).toBe('dos');
    expect(t.partitions).toHaveLength(1);
    expect(t.partitions[0]).toMatchObject({ start: 2048, type: 'c', bootable: true });
    expect(bytes % MIB).toBe(0);
    expect(bytes).toBe(PARTITION_START + t.partitions[0]!.size * 512); // room for the image only
    expect(readFileSync(disk).subarray(0, 440).equals(readFileSync(SYSLINUX_MBR).subarray(0, 440))).toBe(true);
  });

  it('holds syslinux, its config with the command line and the serial console, the kernel and the initrd', () => {
    expect(fatListing(disk)).toMatch(/ldlinux\s+sys/);
    expect(readFatFile(disk, PARTITION_START, 'syslinux.cfg')?.toString()).toBe(syslinuxConfig('quiet', '/kernel', '/initrd.img'));
    expect(syslinuxConfig('quiet', '/kernel', '/initrd.img')).toContain('APPEND quiet console=ttyS0');
    expect(readFatFile(disk, PARTITION_START, 'kernel')?.equals(payload.kernel)).toBe(true);
    expect(readFatFile(disk, PARTITION_START, 'initrd.img')?.equals(payload.initrd)).toBe(true);
  });

  it('dates every file at the build epoch (FAT starts in 1980)', () => {
    const listing = fatListing(disk);
    expect(listing.match(/\d{4}-\d\d-\d\d/g)?.every((d) => d === '1980-01-01')).toBe(true);
    const later = join(dir, 'bios-2021.img');
    writeRawDisk(later, payload, { firmware: 'bios', epoch: Date.UTC(2021, 5, 1) / 1000 });
    expect(fatListing(later).match(/\d{4}-\d\d-\d\d/g)?.every((d) => d === '2021-06-01')).toBe(true);
  });
});

describe('the efi layout', () => {
  const disk = join(dir, 'efi.img');
  writeRawDisk(disk, payload, { firmware: 'efi' });

  it('is a GPT with one EFI system partition, GUIDs derived from the contents, no BIOS code', () => {
    const t = table(disk);
    expect(t.label).toBe('gpt');
    expect(t.id).toBe(derivedUuid(`${diskSeed(payload, 'efi')}/disk`).toUpperCase());
    expect(t.partitions).toHaveLength(1);
    expect(t.partitions[0]).toMatchObject({ start: 2048, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', uuid: derivedUuid(`${diskSeed(payload, 'efi')}/esp`).toUpperCase() });
    expect(readFileSync(disk).subarray(0, 440).every((b) => b === 0)).toBe(true);
  });

  it('holds only EFI/BOOT/BOOTX64.EFI, a unified kernel image of the kernel, initrd and command line', () => {
    expect(fatListing(disk)).toMatch(/EFI\s+<DIR>/);
    const uki = readFatFile(disk, PARTITION_START, 'EFI/BOOT/BOOTX64.EFI')!;
    const { kernel, initrd } = ukiParts(uki, 'BOOTX64.EFI');
    expect(uki.subarray(kernel.rawOffset, kernel.rawOffset + kernel.virtualSize).equals(payload.kernel)).toBe(true);
    expect(uki.subarray(initrd.rawOffset, initrd.rawOffset + initrd.virtualSize).equals(payload.initrd)).toBe(true);
    expect(uki.includes(Buffer.from('quiet console=ttyS0'))).toBe(true);
  });
});

describe('every disk', () => {
  it('is the same bytes from the same inputs, and other ids from other inputs', () => {
    for (const firmware of ['bios', 'efi'] as const) {
      writeRawDisk(join(dir, `a-${firmware}.img`), payload, { firmware });
      writeRawDisk(join(dir, `b-${firmware}.img`), payload, { firmware });
      expect(readFileSync(join(dir, `a-${firmware}.img`)).equals(readFileSync(join(dir, `b-${firmware}.img`)))).toBe(true);
    }
    writeRawDisk(join(dir, 'c-efi.img'), { ...payload, cmdline: 'quiet debug' }, { firmware: 'efi' });
    expect(table(join(dir, 'c-efi.img')).id).not.toBe(table(join(dir, 'a-efi.img')).id);
  });

  it('grows to --size, rounded up to its unit, with the space left unpartitioned', () => {
    const small = writeRawDisk(join(dir, 'small.img'), payload, { firmware: 'efi' });
    const big = writeRawDisk(join(dir, 'big.img'), payload, { firmware: 'efi', size: 300 * MIB + 5 });
    expect(big).toBe(301 * MIB);
    expect(statSync(join(dir, 'big.img')).size).toBe(301 * MIB);
    expect(table(join(dir, 'big.img')).partitions[0]!.size).toBe(table(join(dir, 'small.img')).partitions[0]!.size);
    expect(small).toBeLessThan(big);
    expect(writeRawDisk(join(dir, 'gib.img'), payload, { firmware: 'bios', unit: 2 ** 30 })).toBe(2 ** 30);
  });

  it('refuses a --size too small for the image, naming what it needs', () => {
    expect(() => writeRawDisk(join(dir, 'tiny.img'), payload, { firmware: 'bios', size: 8 * MIB })).toThrow(BuildError);
    expect(() => writeRawDisk(join(dir, 'tiny.img'), payload, { firmware: 'bios', size: 8 * MIB })).toThrow(/--size 8 MiB is smaller than this image needs as a disk: give at least \d+ MiB/);
    expect(() => statSync(join(dir, 'tiny.img'))).toThrow(/ENOENT/);
  });
});

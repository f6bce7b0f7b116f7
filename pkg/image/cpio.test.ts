import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCpio, type CpioEntry } from './cpio.js';
import { parseLdd } from './node-runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-cpio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entries: CpioEntry[] = [
  { path: '/etc/motd', type: 'file', mode: 0o644, data: Buffer.from('hello\n') },
  { path: '/bin/tool', type: 'file', mode: 0o755, data: Buffer.from('x'.repeat(1001)) },
  { path: '/etc/link', type: 'symlink', target: 'motd' },
  { path: '/var/empty', type: 'dir', mode: 0o700 },
  { path: '/dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
];

describe('newc cpio writer', () => {
  it('writes an archive that GNU cpio unpacks with modes, links and parent directories', () => {
    const archive = buildCpio(entries);
    const out = join(dir, 'root');
    const r = spawnSync('cpio', ['-idm', '--no-absolute-filenames', '-D', out], { input: archive });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(readFileSync(join(out, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(statSync(join(out, 'bin/tool')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(join(out, 'bin/tool')).length).toBe(1001);
    expect(readlinkSync(join(out, 'etc/link'))).toBe('motd');
    expect(statSync(join(out, 'var/empty')).mode & 0o7777).toBe(0o700);
    const list = spawnSync('cpio', ['-t'], { input: archive }).stdout.toString().trim().split('\n');
    expect(list).toEqual(['bin', 'bin/tool', 'dev', 'dev/console', 'etc', 'etc/link', 'etc/motd', 'var', 'var/empty']);
  });

  it('gives the same bytes for the same entries in any order', () => {
    expect(buildCpio([...entries].reverse()).equals(buildCpio(entries))).toBe(true);
  });
});

describe('ldd output', () => {
  it('finds libraries and the loader, and skips the vdso', () => {
    const text = `\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n`;
    expect(parseLdd(text)).toEqual(['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });
});

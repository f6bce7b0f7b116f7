// keel build as a LinuxKit user and a CI script meet it: several manifests
// merged in order, what was built as JSON (sizes and digests that match the
// files, image ids), and progress: plain lines in a log, one redrawn line on
// a terminal, none with -q. The real CLI, on a pipe and on a pseudo-terminal.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerArchive, initrdFile } from './helpers/images.js';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { busyboxRootfs } from './helpers/rootfs.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-cli-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let archiveId = '';

beforeAll(() => {
  requireDist();
  busyboxRootfs(join(dir, 'rootfs'));
  mkdirSync(join(dir, 'extra'));
  archiveId = dockerArchive(dir, join(dir, 'extra', 'tool.tar'), 'keel-test/tool:1', { layers: [{ files: { 'bin/busybox': 'busybox' } }] });
  writeFileSync(join(dir, 'base.yml'), 'kernel:\n  cmdline: "console=ttyS0 quiet"\nhostname: base\nservices:\n  - name: db\n    image: ./rootfs\n    command: [/bin/busybox, sleep, "1000"]\n');
  // In a folder of its own: its ./tool.tar is its folder's, not base.yml's.
  writeFileSync(join(dir, 'extra', 'extra.yml'), 'hostname: extra\nservices:\n  - name: tool\n    image: ./tool.tar\n    command: [/bin/busybox, sleep, "1000"]\n');
});

/** The real CLI on pipes, as CI runs it. */
function build(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [join(DIST, 'keel.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The real CLI on a terminal: everything it printed, as the terminal got it. */
function onTerminal(args: string[], env: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const t = pty.spawn(process.execPath, [join(DIST, 'keel.js'), ...args], { name: 'xterm', cols: 160, rows: 30, cwd: dir, env: { ...process.env, ...env } as Record<string, string> });
    let text = '';
    t.onData((d) => (text += d));
    t.onExit((e) => resolve({ status: e.exitCode, text }));
  });
}

const sha = (file: string) => `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;

describe('keel build of several manifests', () => {
  it('merges them in order, and --json says what was built: each output with its size and sha256, each image with its id', async () => {
    const out = join(dir, 'out');
    const r = await build(['build', '--json', '-o', out, join(dir, 'base.yml'), join(dir, 'extra', 'extra.yml')]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { name: string; manifests: string[]; outputs: Array<{ path: string; role: string; bytes: number; sha256: string }>; images: Array<{ ref: string; kind: string; id?: string }>; lock: { path: string }; cmdline: string };
    expect(j.name).toBe('extra'); // the last manifest names the outputs, as linuxkit build does
    expect(j.manifests).toEqual([join(dir, 'base.yml'), join(dir, 'extra', 'extra.yml')]);
    expect(j.outputs.map((o) => [o.path, o.role])).toEqual([[join(out, 'extra-kernel'), 'kernel'], [join(out, 'extra-initrd.img'), 'initrd'], [join(out, 'extra-cmdline'), 'cmdline']]);
    for (const o of j.outputs) {
      expect(o.bytes).toBe(statSync(o.path).size);
      expect(o.sha256).toBe(sha(o.path));
    }
    expect(j.images).toEqual([
      { ref: join(dir, 'rootfs'), kind: 'directory' },
      { ref: join(dir, 'extra', 'tool.tar'), kind: 'docker-archive', id: archiveId },
    ]);
    expect(j.lock.path).toBe(join(dir, 'extra', 'extra.lock'));
    expect(j.cmdline).toBe('console=ttyS0 quiet'); // extra.yml sets none: base.yml's stays
    // What the image runs: both files' services, in order; the later hostname.
    const manifest = JSON.parse(initrdFile(join(out, 'extra-initrd.img'), 'etc/keel/manifest.json')) as { hostname: string; services: Array<{ name: string }> };
    expect(manifest.services.map((s) => s.name)).toEqual(['db', 'tool']);
    expect(manifest.hostname).toBe('extra');
    // Not a terminal: the steps as plain lines, on stderr, nothing redrawn.
    expect(r.stderr).toContain(`image 1 of 2: ${join(dir, 'rootfs')}\n`);
    expect(r.stderr).toContain(`image 2 of 2: ${join(dir, 'extra', 'tool.tar')}\n`);
    expect(r.stderr).toMatch(/^compressing the initramfs \(\d+ files, mixed\)$/m);
    expect(r.stderr).not.toContain('\r');
  }, 300_000);

  it('takes --format kernel+initrd, as LinuxKit\'s scripts pass it, and writes the three files it always writes', async () => {
    const out = join(dir, 'kernel-initrd');
    const r = await build(['build', '-format', 'kernel+initrd', '-o', out, join(dir, 'base.yml')]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['base-cmdline', 'base-initrd.img', 'base-kernel']);
    expect(r.stdout).toMatch(/^built base in [\d.]+ s/);
  }, 300_000);

  it('on a terminal, redraws its progress on one line; with -q it shows none', async () => {
    const shown = await onTerminal(['build', '-o', join(dir, 'tty'), join(dir, 'base.yml'), join(dir, 'extra', 'extra.yml')]);
    expect(shown.status, shown.text).toBe(0);
    expect(shown.text).toMatch(/\r\x1b\[Kimage 1 of 2: /);
    expect(shown.text).toMatch(/\r\x1b\[Kcompressing the initramfs \(\d+ files, mixed\)/);
    expect(shown.text).toMatch(/\r\x1b\[Kbuilt extra in [\d.]+ s/); // the progress line cleared first
    const quiet = await onTerminal(['build', '-q', '-o', join(dir, 'quiet'), join(dir, 'base.yml'), join(dir, 'extra', 'extra.yml')]);
    expect(quiet.status, quiet.text).toBe(0);
    expect(quiet.text).toMatch(/^built extra in [\d.]+ s/);
    expect(quiet.text).not.toMatch(/image 1 of 2|compressing|\x1b\[K/);
  }, 600_000);
});

describe('keel kernel fetch on a cold cache', () => {
  it('says what it downloads, how big it is and when it is done', async () => {
    // linux-image-amd64 is Debian's small meta package: a real download, with no kernel in it.
    const cache = join(dir, 'cold-cache');
    const r = await onTerminal(['kernel', 'fetch', 'linux-image-amd64'], { KEEL_CACHE: cache });
    expect(r.text).toMatch(/\r\x1b\[Kdownloading the kernel linux-image-amd64 \([\d.]+ MB\)/);
    expect(r.text).toMatch(/\r\x1b\[Kdownloaded the kernel linux-image-amd64 \([\d.]+ MB\)\r\n/);
    expect(r.text).toMatch(/unpacking the kernel linux-image-amd64[\s\S]*keel: linux-image-amd64: no boot\/vmlinuz-\* in the package; is it a linux-image package\?/);
    expect(r.status).toBe(1);
    expect(existsSync(join(cache, 'downloads'))).toBe(true);
  }, 120_000);
});

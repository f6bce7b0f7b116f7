// keel build and keel run as an OS builder meets them: repeatable images,
// and clear errors for the mistakes people make.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { dockerArchive, initrdFile } from './helpers/images.js';
import { busyboxRootfs } from './helpers/rootfs.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keel(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('keel build', () => {
  it('is reproducible: the same inputs give a byte-identical initrd', () => {
    requireDist();
    busyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(dir, 'r.yml'), 'services:\n  - name: s\n    image: ./rootfs\n    command: [/bin/sleep, "100"]\nfiles:\n  - path: etc/motd\n    contents: hi\n');
    for (const out of ['a', 'b']) expect(keel('build', '-o', join(dir, out), join(dir, 'r.yml')).status).toBe(0);
    expect(sha(join(dir, 'a/r-initrd.img'))).toBe(sha(join(dir, 'b/r-initrd.img')));
    expect(sha(join(dir, 'a/r-kernel'))).toBe(sha(join(dir, 'b/r-kernel')));
  });

  it.each([
    ['services:\n  - name: s\n    image: ./no-such-dir\n', /services\[0\] \(s\): image \.\/no-such-dir: .*no-such-dir does not exist/],
    ['kernel:\n  image: ./missing-vmlinuz\n', /kernel\.image: .*missing-vmlinuz does not exist/],
    ['kernel:\n  image: linux-image-0.0.0-nonexistent-amd64\n', /could not download the kernel package linux-image-0\.0\.0-nonexistent-amd64[\s\S]*fix: run "apt-get update"/],
    ['files:\n  - path: etc/x\n    source: ./nope\n', /files\[0\] \(etc\/x\): source .*nope does not exist \(add "optional: true" to skip a missing source\)/],
    ['onboot:\n  - name: Bad Name\n    image: ./rootfs\n', /bad\.yml:2:11: onboot\[0\]\.name: "Bad Name" is not a name of lower-case letters/],
  ])('refuses %j with a message that says what to fix', (manifest, message) => {
    writeFileSync(join(dir, 'bad.yml'), manifest);
    const r = keel('build', '-o', join(dir, 'bad-out'), join(dir, 'bad.yml'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('validates without building, with exit codes a script can use', () => {
    writeFileSync(join(dir, 'ok.yml'), 'hostname: fine\n');
    expect(keel('validate', join(dir, 'ok.yml'))).toMatchObject({ status: 0, stdout: expect.stringContaining('valid') });
    writeFileSync(join(dir, 'no.yml'), 'hostname: fine\nservices:\n  - name: a\n    image: /x\n    restart: sometimes\n');
    const bad = keel('validate', join(dir, 'no.yml'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('no.yml:5:14: services[0].restart: "sometimes": not a restart policy (expected one of no, on-failure[:N], always, unless-stopped)');
    expect(keel('validate').status).toBe(2);
    expect(keel('frobnicate').status).toBe(2);
  });

  it('prints a JSON Schema of the manifest for editors', () => {
    const schema = JSON.parse(keel('schema').stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['kernel', 'onboot', 'services', 'onshutdown', 'files']));
  });
});

describe('LinuxKit constructs in keel build', () => {
  it('writes the manifest as written for files[].metadata, leaves LinuxKit\'s own init out with a warning, and carries the modules of the link kinds used', () => {
    busyboxRootfs(join(dir, 'rootfs'));
    const manifest = [
      'init:',
      '  - linuxkit/init:v1.0.0',
      '  - linuxkit/runc:v1.0.0',
      'onboot:',
      '  - name: step',
      '    image: ./rootfs',
      '    command: [/bin/true]',
      '  - name: step',
      '    image: ./rootfs',
      '    command: [/bin/true]',
      '    net: new',
      '    runtime:',
      '      interfaces:',
      '        - {name: wg0, add: wireguard, createInRoot: true}',
      '        - {name: d0, add: dummy}',
      'files:',
      '  - path: etc/linuxkit-config',
      '    metadata: yaml',
      '  - path: etc/linuxkit-config.json',
      '    metadata: json',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'lk.yml'), manifest);
    const r = keel('build', '-o', join(dir, 'lk'), join(dir, 'lk.yml'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${join(dir, 'lk.yml')}: warning: init: linuxkit/init:v1.0.0, linuxkit/runc:v1.0.0 are left out: keel is the init`);
    const initrd = join(dir, 'lk/lk-initrd.img');
    expect(initrdFile(initrd, 'etc/linuxkit-config')).toContain('name: step');
    expect(JSON.parse(initrdFile(initrd, 'etc/linuxkit-config.json'))).toMatchObject({ init: ['linuxkit/init:v1.0.0', 'linuxkit/runc:v1.0.0'], onboot: [{ name: 'step' }, { name: 'step', net: 'new' }] });
    const modules = initrdFile(initrd, 'etc/keel/modules');
    expect(modules).toMatch(/\/wireguard\.ko[\t\n]/);
    expect(modules).toMatch(/\/dummy\.ko[\t\n]/);
  });
});

describe('errors at build time, not at boot', () => {
  it('reports every missing image and every entry the runtime would refuse, in one run, each with where it is', () => {
    busyboxRootfs(join(dir, 'rootfs'));
    const badLabel = dockerArchive(dir, join(dir, 'bad-label.tar'), 'keel-test/bad-label:1', { layers: [{ files: { 'bin/busybox': 'busybox' } }], config: { Labels: { 'org.mobyproject.config': '{"capabilities": [' } } });
    const badCaps = dockerArchive(dir, join(dir, 'bad-caps.tar'), 'keel-test/bad-caps:1', { layers: [{ files: { 'bin/busybox': 'busybox' } }], config: { Labels: { 'org.mobyproject.config': '{"capabilities": ["CAP_NOPE"], "mounts": [{"type": "tmpfs"}]}' } } });
    expect(badLabel).toMatch(/^sha256:/);
    expect(badCaps).toMatch(/^sha256:/);
    writeFileSync(
      join(dir, 'many.yml'),
      [
        'onboot:',
        '  - name: nocmd',
        '    image: ./rootfs',
        '  - name: gone',
        '    image: ./missing-one',
        'services:',
        '  - name: label',
        '    image: ./bad-label.tar',
        '    command: [/bin/busybox, "true"]',
        '  - name: caps',
        '    image: ./bad-caps.tar',
        '    command: [/bin/busybox, "true"]',
        '  - name: gone2',
        '    image: ./missing-two',
        '',
      ].join('\n'),
    );
    const r = keel('build', '-o', join(dir, 'many'), join(dir, 'many.yml'));
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    const file = join(dir, 'many.yml');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${file}:3:12: onboot[0] (nocmd): nocmd: no command: the image has no Entrypoint or Cmd, so give "command:"`),
        expect.stringMatching(/many\.yml:5:12: onboot\[1\] \(gone\): image \.\/missing-one: .*missing-one does not exist/),
        expect.stringContaining(`${file}:8:12: services[0] (label): image ./bad-label.tar: label org.mobyproject.config is not valid JSON`),
        expect.stringContaining(`${file}:11:12: services[1] (caps): image ./bad-caps.tar: label org.mobyproject.config: capabilities[0]: "CAP_NOPE": unknown capability`),
        expect.stringMatching(/many\.yml:14:12: services\[2\] \(gone2\): image \.\/missing-two: .*missing-two does not exist/),
      ]),
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a kernel.image that is not a kernel', () => {
    writeFileSync(join(dir, 'not-a-kernel'), 'just text\n'.repeat(100));
    writeFileSync(join(dir, 'nk.yml'), 'kernel:\n  image: ./not-a-kernel\n');
    const r = keel('build', '-o', join(dir, 'nk'), join(dir, 'nk.yml'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`kernel.image (./not-a-kernel): ${join(dir, 'not-a-kernel')} is not a kernel (no bzImage header, no arm64 Image magic)`);
    expect(r.stderr).toContain('fix: give a linux-image package name, its .deb, a bzImage/vmlinuz file, or a LinuxKit kernel image');
  });

  it('leaves nothing half-made in the cache when interrupted, and removes what a dead build left', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'keel-cache-'));
    try {
      // A dead build's leftovers: scratch directories of a pid that no longer runs.
      mkdirSync(join(cache, 'images', `${'0'.repeat(64)}.tmp-999999`, 'rootfs'), { recursive: true });
      mkdirSync(join(cache, 'kernels'), { recursive: true });
      // A big image to be unpacking when ctrl-c comes.
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 200; i++) files[`data/f${i}`] = Buffer.alloc(256 * 1024, i);
      dockerArchive(dir, join(dir, 'big.tar'), 'keel-test/big:1', { layers: [{ files }] });
      writeFileSync(join(dir, 'big.yml'), 'services:\n  - name: s\n    image: ./big.tar\n    command: [/bin/true]\n');
      const env = { ...process.env, KEEL_CACHE: cache };
      const child = spawn(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', join(dir, 'big'), join(dir, 'big.yml')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const scratch = () => readdirSync(join(cache, 'images')).filter((n) => /\.tmp-\d+$/.test(n));
      const deadline = Date.now() + 120_000;
      while (!scratch().some((n) => n.endsWith(`.tmp-${child.pid}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(scratch()).not.toContain(`${'0'.repeat(64)}.tmp-999999`); // swept at the start
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code).toBe(130);
      expect(stderr).toContain('keel: build interrupted (SIGINT); nothing half-made is left in the cache');
      expect(scratch()).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('keel run', () => {
  it('refuses a memory size the initrd cannot unpack into, saying what is enough', () => {
    const r = keel('run', '--mem', '128', join(dir, 'a/r'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unpacks to more than 128 MiB leaves room for: give --mem \d+ or more/);
  });

  it('says which image is missing', () => {
    mkdirSync(join(dir, 'empty'), { recursive: true });
    const r = keel('run', join(dir, 'empty/nothing'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no image .*nothing: .*nothing-kernel and .*nothing-initrd\.img not found; build it with "keel build"/);
  });
});

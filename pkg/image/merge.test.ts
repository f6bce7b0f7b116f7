// Several manifests merged in order, by LinuxKit's rules for
// `linuxkit build a.yml b.yml`, with keel's own sections replaced whole.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManifestError } from '../../model/index.js';
import { mergedFieldLocator, mergeManifests, readManifestText } from './merge.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(rel: string, text: string): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

const base = file(
  'base.yml',
  `kernel:
  cmdline: "console=ttyS0"
  modules: [wireguard]
init: [linuxkit/init:v1]
hostname: base
shutdown: {grace: 2s}
onboot:
  - {name: net, image: alpine:3.20}
services:
  - {name: db, image: ./rootfs}
files:
  - {path: etc/a, contents: a}
  - {path: etc/src, source: ./local.txt}
`,
);
mkdirSync(join(dir, 'rootfs'));
mkdirSync(join(dir, 'extra/rootfs'), { recursive: true });

describe('keel build a.yml b.yml', () => {
  it('appends the lists, takes what the later file sets, and keeps what it leaves out', () => {
    const extra = file(
      'extra/more.yml',
      `kernel:
  cmdline: ""
  modules: [vrf]
hostname: more
console: {access: "off"}
onboot:
  - {name: net, image: alpine:3.20}
services:
  - {name: web, image: ./rootfs}
files:
  - {path: etc/b, contents: b}
`,
    );
    const m = mergeManifests([base, extra].map(readManifestText));
    expect(m.kernel?.cmdline).toBe('console=ttyS0'); // an empty cmdline leaves the earlier one, as in LinuxKit
    expect(m.kernel?.modules).toEqual(['wireguard', 'vrf']);
    expect(m.init).toEqual(['linuxkit/init:v1']);
    expect(m.hostname).toBe('more');
    expect(m.console).toEqual({ access: 'off' });
    expect(m.shutdown.grace).toBe(2000); // more.yml has no shutdown: base's stays
    expect(m.onboot.map((c) => c.name)).toEqual(['net', 'net']);
    expect(m.services.map((c) => c.name)).toEqual(['db', 'web']);
    // Each file's host paths are its own folder's.
    expect(m.services.map((c) => c.image)).toEqual([join(dir, 'rootfs'), join(dir, 'extra/rootfs')]);
    expect(m.onboot[0]!.image).toBe('alpine:3.20');
    expect(m.files.map((f) => f.path)).toEqual(['etc/a', 'etc/src', 'etc/b']);
    expect(m.files[1]!.source).toBe(join(dir, 'local.txt'));
  });

  it('refuses a service named twice, pointing at the second one', () => {
    const again = file('again.yml', 'hostname: x\nservices:\n  - name: other\n    image: ./rootfs\n  - name: db\n    image: ./rootfs\n');
    try {
      mergeManifests([base, again].map(readManifestText));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ManifestError);
      expect((e as Error).message).toBe(`${again}:5:11: services[1].name: "db" is already a service in ${base}; names must be unique across the manifests merged`);
    }
  });

  it('reports the problems of every file before merging any', () => {
    const bad1 = file('bad1.yml', 'hostnme: x\n');
    const bad2 = file('bad2.yml', 'services:\n  - name: a\n    image: /x\n    restart: sometimes\n');
    expect(() => mergeManifests([bad1, base, bad2].map(readManifestText))).toThrow(
      new RegExp(`bad1\\.yml:1:1: hostnme: unknown field; did you mean "hostname"\\?.*\\n.*bad2\\.yml:4:14: services\\[0\\]\\.restart`),
    );
  });

  it('finds an entry of the merge where it is written: its own file, its place there', () => {
    const more = file('more2.yml', 'services:\n  - name: web\n    image: ./rootfs\n  - name: cache\n    image: ./rootfs\n');
    const where = mergedFieldLocator([base, more].map(readManifestText));
    expect(where(['services', 0, 'image'])).toBe(`${base}:10:23`);
    expect(where(['services', 2, 'image'])).toBe(`${more}:5:12`);
    expect(where(['onboot', 0, 'image'])).toBe(`${base}:8:24`);
  });

  it('merges files that use many aliases and merge keys, as a single file would read them', () => {
    const lines = ['kernel:', '  cmdline: ""', 'onboot:', '  - &first {name: o0, image: ./rootfs, env: &e [A=1, B=2, C=3, D=4, E=5]}'];
    for (let i = 1; i < 300; i++) lines.push(`  - {name: o${i}, image: ./rootfs, env: *e}`);
    lines.push('services:', '  - <<: *first', '    name: web');
    const many = file('many.yml', `${lines.join('\n')}\n`);
    const m = mergeManifests([base, many].map(readManifestText));
    expect(m.kernel?.cmdline).toBe('console=ttyS0');
    expect(m.onboot).toHaveLength(301);
    expect(m.services.map((c) => [c.name, c.env?.length])).toEqual([['db', undefined], ['web', 5]]);
  });
});

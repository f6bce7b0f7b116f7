// A volume of format: oci holds its image as an OCI image layout that keel's
// own OCI source reads back to the same files and config.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busyboxRootfs } from '../../test/helpers/rootfs.js';
import type { CpioEntry } from './cpio.js';
import { ociLayoutEntries } from './oci-volume.js';
import { fromOciLayout } from './sources/oci-layout.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-ocivol-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeEntries(root: string, entries: CpioEntry[]): void {
  for (const e of entries) {
    const p = join(root, e.path);
    if (e.type === 'dir') mkdirSync(p, { recursive: true });
    else if (e.type === 'file') {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, e.data);
    }
  }
}

describe('a volume of format: oci', () => {
  it('is an OCI layout of its image that reads back to the same files and config', async () => {
    const rootfs = busyboxRootfs(join(dir, 'src'));
    writeFileSync(join(rootfs, 'etc/greeting'), 'hello\n');
    const entries = ociLayoutEntries({ kind: 'directory', key: `dir:${rootfs}`, rootfs, config: { cmd: ['/bin/sh'], env: ['A=1'] } }, '/volumes/app', 'example/app:1');
    writeEntries(dir, entries);
    const layout = join(dir, 'volumes/app');
    expect(readdirSync(layout).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations: Record<string, string>; platform: unknown }> };
    expect(index.manifests[0]).toMatchObject({ annotations: { 'org.opencontainers.image.ref.name': 'example/app:1' }, platform: { architecture: 'amd64', os: 'linux' } });
    const back = await fromOciLayout(layout, 'example/app:1', 'test');
    expect(readFileSync(join(back.rootfs, 'etc/greeting'), 'utf8')).toBe('hello\n');
    expect(readdirSync(join(back.rootfs, 'bin')).length).toBe(readdirSync(join(rootfs, 'bin')).length);
    expect(back.config).toMatchObject({ cmd: ['/bin/sh'], env: ['A=1'] });
  });
});

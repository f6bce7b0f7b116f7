// The image's modprobe helper, run by a real shell as the kernel runs it
// ("-q -- NAME"). Its insmod is a stand-in that records what it was given:
// loading into this machine's kernel is not a test. The VM tests have the
// kernel run it for real (test/vm.test.ts, "feature modules").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modprobeScript } from './modprobe-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-modprobe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LIST = [
  { path: '/lib/modules/r/llc.ko', deps: [], onlyAsDependency: true },
  { path: '/lib/modules/r/stp.ko', deps: ['/lib/modules/r/llc.ko'], onlyAsDependency: true },
  { path: '/lib/modules/r/bridge.ko', deps: ['/lib/modules/r/llc.ko', '/lib/modules/r/stp.ko'], requests: ['bridge', 'rtnl-link-bridge'] },
  { path: '/lib/modules/r/overlay.ko', deps: [], requests: ['overlay', 'fs-overlay'] },
  { path: '/lib/modules/r/virtio_blk.ko', deps: [], devices: ['virtio:d00000002v*'] },
  { path: "/lib/modules/r/odd name's.ko", deps: [], requests: ['odd', 'fs-od[d]*'] },
];

function ask(...args: string[]): { status: number | null; loaded: string[] } {
  const script = join(dir, 'modprobe');
  writeFileSync(script, modprobeScript(LIST)!, { mode: 0o755 });
  const log = join(dir, 'loaded');
  rmSync(log, { force: true });
  writeFileSync(join(dir, 'insmod'), `#!/bin/sh\nprintf '%s\\n' "$1" >> ${log}\n`, { mode: 0o755 });
  const r = spawnSync('/bin/sh', [script, ...args], { env: { KEEL_INSMOD: join(dir, 'insmod'), PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
  return { status: r.status, loaded: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [] };
}

describe("the image's modprobe helper", () => {
  it('loads the module the kernel asks for by any of its names, what it needs first', () => {
    expect(ask('-q', '--', 'rtnl-link-bridge')).toEqual({ status: 0, loaded: ['/lib/modules/r/llc.ko', '/lib/modules/r/stp.ko', '/lib/modules/r/bridge.ko'] });
    expect(ask('-q', '--', 'bridge').loaded.at(-1)).toBe('/lib/modules/r/bridge.ko');
    expect(ask('-q', '--', 'fs-overlay')).toEqual({ status: 0, loaded: ['/lib/modules/r/overlay.ko'] });
  });

  it('fails at once, loading nothing, for a name it does not carry, and takes glob characters in a name literally', () => {
    expect(ask('-q', '--', 'fs-btrfs')).toEqual({ status: 1, loaded: [] });
    expect(ask('-q', '--', 'virtio_blk')).toEqual({ status: 1, loaded: [] }); // a driver is loaded for its device, not asked for
    expect(ask('-q', '--', 'fs-odx')).toEqual({ status: 1, loaded: [] });
    expect(ask('-q', '--', 'fs-od[d]*')).toEqual({ status: 0, loaded: ["/lib/modules/r/odd name's.ko"] });
    expect(ask()).toEqual({ status: 1, loaded: [] });
  });

  it('is left out of an image with no module to ask for', () => {
    expect(modprobeScript(LIST.filter((m) => !('requests' in m)))).toBeUndefined();
  });
});

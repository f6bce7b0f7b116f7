// The image's modprobe helper, run by a real shell as the kernel runs it
// ("-q -- NAME"). Its insmod is a stand-in that records what it was given,
// and its kernel log a file: loading into or logging to this machine's
// kernel is not a test. The VM tests have the kernel run it for real
// (test/vm.test.ts, "feature modules").
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
  // Not a module this machine's kernel has loaded: the helper looks in /sys/module after a failed insmod.
  { path: '/lib/modules/r/keel-test-broken.ko', deps: [], requests: ['keel-test-broken', 'fs-broken'] },
];

function ask(...args: string[]): { status: number | null; loaded: string[]; kmsg: string } {
  const script = join(dir, 'modprobe');
  writeFileSync(script, modprobeScript(LIST)!, { mode: 0o755 });
  const log = join(dir, 'loaded');
  const kmsg = join(dir, 'kmsg');
  rmSync(log, { force: true });
  rmSync(kmsg, { force: true });
  // The stand-in fails as insmod does for a module it cannot link.
  writeFileSync(join(dir, 'insmod'), `#!/bin/sh\nprintf '%s\\n' "$1" >> ${log}\ncase "$1" in *broken*) echo "insmod: can't insert '$1': Unknown symbol in module" >&2; exit 1;; esac\n`, { mode: 0o755 });
  const r = spawnSync('/bin/sh', [script, ...args], { env: { KEEL_INSMOD: join(dir, 'insmod'), KEEL_KMSG: kmsg, PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  return { status: r.status, loaded: read(log).split('\n').filter(Boolean), kmsg: read(kmsg) };
}

describe("the image's modprobe helper", () => {
  it('loads the module the kernel asks for by any of its names, what it needs first', () => {
    expect(ask('-q', '--', 'rtnl-link-bridge')).toEqual({
      status: 0,
      loaded: ['/lib/modules/r/llc.ko', '/lib/modules/r/stp.ko', '/lib/modules/r/bridge.ko'],
      kmsg: "<14>keel: loaded a module for the kernel's request: rtnl-link-bridge\n",
    });
    expect(ask('-q', '--', 'bridge').loaded.at(-1)).toBe('/lib/modules/r/bridge.ko');
    expect(ask('-q', '--', 'fs-overlay')).toMatchObject({ status: 0, loaded: ['/lib/modules/r/overlay.ko'] });
  });

  it('says in the kernel log (at warning level, which keel-init relays) why a module would not load, and exits 1', () => {
    expect(ask('-q', '--', 'fs-broken')).toEqual({
      status: 1,
      loaded: ['/lib/modules/r/keel-test-broken.ko'],
      kmsg: "<12>keel: modprobe fs-broken: /lib/modules/r/keel-test-broken.ko: insmod: can't insert '/lib/modules/r/keel-test-broken.ko': Unknown symbol in module\n",
    });
  });

  it('fails at once, loading nothing, for a name it does not carry, and takes glob characters in a name literally', () => {
    const nothing = { status: 1, loaded: [], kmsg: '' };
    expect(ask('-q', '--', 'fs-btrfs')).toEqual(nothing);
    expect(ask('-q', '--', 'virtio_blk')).toEqual(nothing); // a driver is loaded for its device, not asked for
    expect(ask('-q', '--', 'fs-odx')).toEqual(nothing);
    expect(ask('-q', '--', 'fs-od[d]*')).toMatchObject({ status: 0, loaded: ["/lib/modules/r/odd name's.ko"] });
    expect(ask()).toEqual(nothing);
  });

  it('is left out of an image with no module to ask for', () => {
    expect(modprobeScript(LIST.filter((m) => !('requests' in m)))).toBeUndefined();
  });
});

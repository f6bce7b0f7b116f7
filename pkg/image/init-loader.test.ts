// keel-init's code cache as keel build makes it: the same bytes on any
// machine (a fresh cache here stands for another machine), so that an image
// is reproducible without keel's cache. Its use at boot: test/vm-startup.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireDist, DIST } from '../../test/helpers/keel-ns.js';
import { hostArch } from './arch.js';
import { initEntries } from './init-loader.js';
import { imageNode } from './node-binary.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** initEntries with keel's cache in a new, empty directory. */
function freshBuild(node: string) {
  const saved = process.env.KEEL_CACHE;
  const dir = mkdtempSync(join(tmpdir(), 'keel-cc-'));
  dirs.push(dir);
  process.env.KEEL_CACHE = dir;
  try {
    return initEntries(DIST, node, true);
  } finally {
    if (saved === undefined) delete process.env.KEEL_CACHE;
    else process.env.KEEL_CACHE = saved;
  }
}

describe("keel-init's code cache", () => {
  it('is the same bytes when made again from nothing', () => {
    requireDist();
    const node = imageNode(hostArch()).path;
    const cacheOf = (entries: ReturnType<typeof initEntries>) => entries.find((e) => e.path.endsWith('.cache'));
    const a = cacheOf(freshBuild(node));
    const b = cacheOf(freshBuild(node));
    expect(a && a.type === 'file' && a.data.length).toBeGreaterThan(100_000);
    expect(a?.type === 'file' && b?.type === 'file' && a.data.equals(b.data)).toBe(true);
  }, 120_000);

  it('leaves the yaml library out of the bundle /init compiles, in a file beside it that parses YAML', () => {
    requireDist();
    const entries = initEntries(DIST, imageNode(hostArch()).path, false);
    const text = (name: string) => {
      const e = entries.find((x) => x.path === `/usr/lib/keel/${name}`);
      return e?.type === 'file' ? e.data.toString() : '';
    };
    expect(text('keel-init.cjs')).toContain('require("./keel-yaml.cjs")');
    expect(text('keel-init.cjs')).not.toContain('YAMLParseError');
    expect(text('keel-yaml.cjs')).toContain('YAMLParseError');
    const r = spawnSync(process.execPath, ['-e', `const y = require(${JSON.stringify(join(DIST, 'keel-yaml.cjs'))}); console.log(JSON.stringify(y.parse('services:\\n  - name: web\\n')))`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('{"services":[{"name":"web"}]}');
  });
});

// Hostile manifests as a user meets them: `keel validate` and keel-init as
// PID 1 of a PID namespace, with the real bundles. A manifest too big, an
// alias bomb, an alias to nothing, a huge value in an error: each gets a
// short, clear error with the file, line and field, never a stack trace; and
// while a large manifest is read, keel-init answers its API and SIGTERM.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import type { BootReport } from '../api/wire.js';
import { DIST, requireDist, startKeel, type KeelNs } from './helpers/keel-ns.js';
import { fill } from './helpers/manifest-text.js';

let dir: string;
let keel: KeelNs | undefined;
beforeAll(() => {
  requireDist();
  dir = mkdtempSync(join(tmpdir(), 'keel-manifest-limits-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

const MiB = 2 ** 20;
const STACK_LINE = /^\s+at /m;

/** Nine aliases of nine aliases, seven levels deep: 9^7 (4.8 million) values from a few lines. */
const ALIAS_BOMB = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((n, i) => { const p = 'abcdefg'[i]; return `${n}: &${n} [*${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}]`; })].join('\n') + '\n';

function validate(name: string, text: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'validate', file], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('keel validate on hostile manifests', () => {
  it('refuses a 2 MiB and a 50 MiB manifest, naming the file and the limit', () => {
    for (const [name, size] of [['two.yml', 2 * MiB], ['fifty.yml', 50 * MiB]] as const) {
      const r = validate(name, fill(size, 'files:\n', (i) => `  - path: etc/f${i}\n    contents: "${'x'.repeat(100)}"\n`));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^${join(dir, name)}: the manifest is ${size / MiB}\\.0 MiB \\(\\d+ bytes\\); keel reads at most 1\\.0 MiB \\(1048576 bytes\\) of YAML`));
      expect(r.stderr.length).toBeLessThan(500);
    }
  });

  it('reads a manifest just under the limit', () => {
    const r = validate('large.yml', fill(MiB - 1000, 'files:\n', (i) => `  - {path: etc/f${i}, contents: hello}\n`));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('places an alias bomb and an alias to a missing anchor at their line and column, without a stack', () => {
    const bomb = validate('bomb.yml', ALIAS_BOMB);
    expect(bomb.status).toBe(1);
    expect(bomb.stderr).toMatch(/bomb\.yml:\d+:\d+: [a-g]\[\d+\]: aliases expand to more than 100000 values here \(an alias bomb\?\)/);
    const missing = validate('missing.yml', 'services:\n  - name: a\n    image: *nope\n');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`${join(dir, 'missing.yml')}:3:12: services[0].image: the alias *nope names no anchor defined before it; write &nope on an earlier value, or write the value here\n`);
    for (const r of [bomb, missing]) {
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.stderr).not.toContain('internal error');
    }
  });

  it('never repeats a long value whole: 80 characters and "…"', () => {
    const value = 'y'.repeat(500_000);
    // The key is explicit ("? KEY"): YAML allows implicit keys of at most 1024 characters.
    const r = validate('long.yml', `services:\n  - name: a\n    image: /i\n    restart: "${value}"\n    ? ${value}\n    : 1\n`);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines).toContain(`${join(dir, 'long.yml')}:4:14: services[0].restart: "${'y'.repeat(80)}…" (500000 characters): not a restart policy (expected one of no, on-failure[:N], always, unless-stopped)`);
    expect(lines).toContain(`${join(dir, 'long.yml')}:5:7: services[0].${'y'.repeat(80)}… (500000 characters): unknown field ("keel schema" lists the valid fields)`);
  });

  it('lists the first 20 problems and counts the rest', () => {
    const r = validate('many.yml', fill(200_000, 'services:\n', (i) => `  - {name: s${i}, image: /i, bogus: 1}\n`));
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toMatch(/many\.yml:2:27: services\[0\]\.bogus: unknown field/);
    expect(lines[20]).toMatch(/many\.yml: … and \d+ more problem\(s\) of the same kinds; fix these first$/);
  });
});

describe('keel-init with a hostile manifest', () => {
  it('stays up while it reads a large manifest: answers the API, and powers off on SIGTERM', async () => {
    // About a megabyte of flow mappings: the slowest YAML to read per byte (seconds), and nothing for keel-init to run.
    keel = startKeel(fill(MiB - 1000, 'files:\n', (i) => `  - {path: f${i}}\n`));
    const socket = join(keel.dir, 'state', 'keel.sock');
    let during: BootReport | undefined;
    for (let i = 0; i < 500 && !during; i++) {
      const reply = await call(socket, 'GET', '/v1/boot').catch(() => undefined);
      if (reply?.status === 200) during = JSON.parse(reply.body) as BootReport;
      else await new Promise((r) => setTimeout(r, 10));
    }
    // The answer came while the manifest was being read: its stage had not ended.
    expect(during?.stages.map((s) => s.name)).toEqual(['machine', 'claim', 'load', 'console', 'log', 'reaper', 'signals', 'control']);
    const ps = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'ps', '--socket', socket], { encoding: 'utf8' });
    expect(ps).toMatchObject({ status: 0, stdout: 'no services\n' });
    const after = JSON.parse((await call(socket, 'GET', '/v1/boot')).body) as BootReport;
    expect(after.stages.map((s) => s.name)).not.toContain('manifest'); // keel ps too was answered while it read
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    expect(keel.output()).toContain('SIGTERM: poweroff');
    expect(keel.output()).not.toContain('plan: manifest'); // it never finished reading: SIGTERM did not wait for it
  });

  it('reads a large manifest to the end when left alone', async () => {
    keel = startKeel(fill(MiB - 1000, 'hostname: big\nfiles:\n', (i) => `  - {path: f${i}}\n`));
    await keel.waitFor(/boot complete/, 120_000);
    expect(keel.output()).toMatch(/plan: manifest \S+ sha256:\w+: 0 onboot, 0 service\(s\), 0 onshutdown/);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  });

  it.each([
    ['an alias bomb', ALIAS_BOMB, /keel\.yml:\d+:\d+: [a-g]\[\d+\]: aliases expand to more than 100000 values here/],
    ['an alias to a missing anchor', 'services:\n  - name: a\n    image: *nope\n', /keel\.yml:3:12: services\[0\]\.image: the alias \*nope names no anchor defined before it/],
    ['a 50 MiB manifest', fill(50 * MiB, 'files:\n', (i) => `  - path: etc/f${i}\n    contents: "${'x'.repeat(100)}"\n`), /keel\.yml: the manifest is 50\.0 MiB \(\d+ bytes\); keel reads at most 1\.0 MiB/],
  ])('enters the emergency state on %s with the error placed, no stack, and shuts down', async (_what, text, expected) => {
    keel = startKeel(text);
    await keel.waitFor(/EMERGENCY: boot stopped: the manifest \S+ is not valid/);
    await keel.waitFor(expected);
    expect(keel.output()).not.toMatch(STACK_LINE);
    expect(keel.output()).not.toContain('internal error');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  });
});

// Seccomp profile files named by the manifest: read relative to it at load,
// checked in OCI form, and carried by the normalized JSON.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemsOf } from '../test/helpers/manifest-text.js';
import { loadManifest, normalizedJson, parseManifest } from './index.js';

let dir: string;
const PROFILE = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-seccomp-'));
  writeFileSync(join(dir, 'strict.json'), JSON.stringify(PROFILE));
  writeFileSync(join(dir, 'docker.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', archMap: [], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: {} }] }));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_MAYBE' }] }));
  writeFileSync(join(dir, 'broken.json'), '{"defaultAction": ');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function manifest(seccomp: string): string {
  const file = join(dir, 'keel.yml');
  writeFileSync(file, `services:\n  - name: a\n    image: /i\n    seccomp: ${seccomp}\n`);
  return file;
}

const problems = (file: string) => problemsOf(() => loadManifest(file));

describe('seccomp in the manifest', () => {
  it('reads a profile file relative to the manifest, and the normalized JSON carries the profile itself', () => {
    const m = loadManifest(manifest('strict.json'));
    expect(m.services[0]!.seccomp).toEqual(PROFILE);
    const json = normalizedJson(m);
    expect(JSON.parse(json).services[0].seccomp).toEqual(PROFILE);
    expect(parseManifest(json, '/elsewhere/manifest.json')).toEqual(m); // read back anywhere: no file is needed any more
  });

  it('keeps the words default and unconfined', () => {
    expect(loadManifest(manifest('unconfined')).services[0]!.seccomp).toBe('unconfined');
    expect(loadManifest(manifest('default')).services[0]!.seccomp).toBe('default');
  });

  it.each([
    ['nope.json', /keel\.yml:4:14: services\[0\]\.seccomp: "nope\.json": no such file \(.*\/nope\.json\)$/],
    ['broken.json', /keel\.yml:4:14: services\[0\]\.seccomp: "broken\.json": not valid JSON: /],
    ['bad.json', /keel\.yml:4:14: services\[0\]\.seccomp: "bad\.json": syscalls\[0\]\.action: "SCMP_ACT_MAYBE" is not one of SCMP_ACT_KILL, /],
    ['docker.json', /keel\.yml:4:14: services\[0\]\.seccomp: "docker\.json" is in Docker's profile format \(archMap, includes, excludes\); keel takes the OCI form/],
    ['/dev/zero', /keel\.yml:4:14: services\[0\]\.seccomp: "\/dev\/zero": not a regular file$/],
    ['""', /keel\.yml:4:14: services\[0\]\.seccomp: "" is not default, unconfined, or the path of a seccomp profile/],
    ['[a]', /keel\.yml:4:14: services\[0\]\.seccomp: a list is not default, unconfined, or the path of a seccomp profile/],
  ])('refuses %s, naming the manifest, the field and the profile', (value, expected) => {
    const found = problems(manifest(value));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });
});

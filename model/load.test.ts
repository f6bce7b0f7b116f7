// The manifest reader's bounds and placement: YAML anchors and aliases,
// duplicate keys, nesting, the normalized JSON's fast path with its
// problems placed by line and column, and the size limits.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemsOf } from '../test/helpers/manifest-text.js';
import { loadManifest, MAX_MANIFEST_BYTES, MAX_YAML_BYTES, normalizedJson, parseManifest } from './index.js';
import { jsonOffset, linePosition } from './json-locate.js';

const problems = (text: string, file = 'keel.yml') => problemsOf(() => parseManifest(text, file));

describe('YAML anchors and aliases', () => {
  it('reads aliases as the values they name, however many', () => {
    const lines = ['services:', '  - {name: s0, image: /i, env: &e [A=1, B=2]}'];
    for (let i = 1; i < 2000; i++) lines.push(`  - {name: s${i}, image: /i, env: *e}`);
    const m = parseManifest(lines.join('\n'), 'keel.yml');
    expect(m.services).toHaveLength(2000);
    expect(m.services[1999]!.env).toEqual(['A=1', 'B=2']);
  });

  it('names the last anchor of a name before the alias, as YAML says', () => {
    const m = parseManifest('hostname: &h one\nservices:\n  - {name: a, image: *h}\n  - {name: &h b, image: *h}\n', 'keel.yml');
    expect(m.services.map((s) => s.image)).toEqual(['one', 'b']);
  });

  it.each([
    ['an alias before its anchor', 'hostname: *h\nservices: &h []\n', 'keel.yml:1:11: hostname: the alias *h names no anchor defined before it'],
    ['an alias with a name thousands of characters long', `hostname: *${'x'.repeat(6000)}\n`, /^keel\.yml:1:11: hostname: the alias \*x{80,200}… \(6000 characters\) names no anchor defined before it; write &x{80,200}… \(6000 characters\) on an earlier value, or write the value here$/],
    ['an alias inside its own anchor', 'services: &s [*s]\n', 'keel.yml:1:15: services[0]: the alias *s is inside the value it names, which would never end'],
    ['an alias bomb', 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n', /^keel\.yml:5:\d+: e\[\d\]: aliases expand to more than 100000 values here/],
  ])('refuses %s at its line and column', (_what, text, expected) => {
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });
  it('reads merge keys (<<) as LinuxKit does: the mapping\'s own fields first, then the merged in order', () => {
    const text = [
      'services:',
      '  - &base',
      '    name: a',
      '    image: /base',
      '    net: host',
      '  - <<: *base',
      '    name: b',
      '    pid: host',
      '  - name: c',
      '    <<: [{image: /other, pid: host}, *base]',
      '    net: none',
    ].join('\n');
    const m = parseManifest(text, 'keel.yml');
    expect(m.services.map((s) => [s.name, s.image, s.net, s.pid])).toEqual([
      ['a', '/base', 'host', undefined],
      ['b', '/base', 'host', 'host'],
      ['c', '/other', 'none', 'host'],
    ]);
    // Quoted, << is a key like any other.
    expect(problems(`${text}\n  - {name: d, image: /d, "<<": *base}`)).toEqual([expect.stringMatching(/^keel\.yml:12:\d+: services\[3\]\.<<: unknown field/)]);
  });

  it('refuses a merge key of a plain value, at its place', () => {
    expect(problems('services:\n  - name: a\n    image: /a\n    <<: 3\n')).toEqual([expect.stringMatching(/^keel\.yml:4:9: services\[0\]\.<<: a merge key \(<<\) takes a mapping/)]);
  });
});

describe('YAML structure', () => {
  it('refuses a key given twice, at the second', () => {
    expect(problems('services:\n  - name: a\n    image: /i\n    name: b\n')).toEqual(['keel.yml:4:5: services[0].name: is given twice in the same mapping; keep one']);
  });

  it('reads __proto__ as a field like any other (an unknown one)', () => {
    expect(problems('__proto__: {hostname: x}\n')).toEqual([expect.stringMatching(/^keel\.yml:1:1: __proto__: unknown field/)]);
  });

  it('refuses a list or mapping as a key', () => {
    expect(problems('? [a, b]\n: 1\n')[0]).toBe('keel.yml:1:3: a key is a list or a mapping; keys are plain names');
  });

  it('refuses nesting deeper than any field needs, placed', () => {
    expect(problems(`services: ${'['.repeat(100)}${']'.repeat(100)}\n`)[0]).toMatch(/^keel\.yml:1:\d+: services(\[0\])+: nested more than 64 levels deep/);
  });

  it('refuses nesting thousands deep without overflowing', () => {
    expect(problems(`services: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`)[0]).toMatch(/nested (more than 64 levels deep|too deeply to read)/);
  });
});

describe('the normalized JSON', () => {
  const json = normalizedJson(parseManifest('services:\n  - name: web\n    image: /i\n', 'keel.yml'));

  it('places a problem at its line and column', () => {
    const bad = json.replace('"restart": "always"', '"restart": "sometimes"');
    const line = bad.split('\n').findIndex((l) => l.includes('"sometimes"')) + 1;
    expect(problems(bad, 'manifest.json')).toEqual([`manifest.json:${line}:18: services[0].restart: "sometimes": not a restart policy (expected one of no, on-failure[:N], always, unless-stopped)`]);
  });

  it('points at the key of an unknown field', () => {
    const bad = json.replace('"name": "web",', '"name": "web", "bogus": 1,');
    const line = bad.split('\n').findIndex((l) => l.includes('"bogus"')) + 1;
    expect(problems(bad, 'manifest.json')[0]).toMatch(new RegExp(`^manifest\\.json:${line}:\\d+: services\\[0\\]\\.bogus: unknown field`));
  });

  it('is found by jsonOffset through objects, lists, strings with escapes and nesting', () => {
    const text = '{"a": {"s": "x\\"]}", "n": [[1, {"k": [2]}], {"z": true}]}, "b": 3}';
    expect(text.slice(jsonOffset(text, ['a', 'n', 1, 'z'], false))).toMatch(/^true/);
    expect(text.slice(jsonOffset(text, ['a', 'n', 1, 'z'], true))).toMatch(/^"z"/);
    expect(text.slice(jsonOffset(text, ['b'], false))).toMatch(/^3/);
    expect(text.slice(jsonOffset(text, ['a', 'missing'], false))).toMatch(/^\{"s"/); // the closest value above
    expect(linePosition('ab\ncd\nef', 7)).toEqual({ line: 3, column: 2 });
  });

  it('is refused by keel build when keel-init would refuse it', () => {
    const lines = ['services:'];
    for (let i = 0, size = 0; size < MAX_YAML_BYTES - 100; i++) size += lines[lines.push(`  - {name: s${i}, image: /i}`) - 1]!.length + 1;
    const m = parseManifest(lines.join('\n'), 'keel.yml');
    expect(() => normalizedJson(m, 'keel.yml')).toThrow(/^keel\.yml: with every default written out it is \d+\.\d MiB, over the 16\.0 MiB keel-init reads/);
  });
});

describe('the size limit', () => {
  it('refuses YAML over 1 MiB and any file over 16 MiB, reading no further than the limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-load-'));
    try {
      writeFileSync(join(dir, 'big.yml'), `# ${'x'.repeat(MAX_YAML_BYTES)}\n`);
      expect(() => loadManifest(join(dir, 'big.yml'))).toThrow(/big\.yml: the manifest is 1\.0 MiB \(1048579 bytes\); keel reads at most 1\.0 MiB/);
      writeFileSync(join(dir, 'huge.json'), `{"format": "keel-manifest/1", "x": "${'x'.repeat(MAX_MANIFEST_BYTES)}"}`);
      expect(() => loadManifest(join(dir, 'huge.json'))).toThrow(/huge\.json: the manifest is 16\.0 MiB/);
      // A device that never ends is read up to the limit and refused.
      expect(() => loadManifest('/dev/zero')).toThrow(/\/dev\/zero: the manifest is over 16\.0 MiB/);
      expect(() => loadManifest(dir)).toThrow(/cannot read the manifest: it is a directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from 'vitest';
import { normalizedJson, parseManifest, ManifestError } from './index.js';
import { CONTAINER_ONLY } from './process.js';

function problems(yaml: string): string[] {
  try {
    parseManifest(yaml, 'keel.yml');
    return [];
  } catch (err) {
    if (err instanceof ManifestError) return err.message.split('\n');
    throw err;
  }
}

describe('process entries (kind: process)', () => {
  it('need a command and no image, and read back from the normalized JSON unchanged', () => {
    const m = parseManifest('services:\n  - name: app\n    kind: process\n    command: [app]\n    uid: www-data\nmain: app\noutput: plain\n', 'keel.yml');
    expect(m.services[0]).toMatchObject({ kind: 'process', command: ['app'], uid: 'www-data' });
    expect(m.services[0]!.image).toBeUndefined();
    expect(parseManifest(normalizedJson(m), 'manifest.json')).toEqual(m);
  });

  it('a container still needs its image, and says how to do without', () => {
    expect(problems('onboot:\n  - name: x\n    command: [app]\n')).toEqual(['keel.yml:2:5: onboot[0].image: is required for a container (or give kind: process to run a command without an image)']);
  });

  it('a process without a command is refused at its entry', () => {
    expect(problems('services:\n  - name: x\n    kind: process\n').join('\n')).toContain('services[0].command: a process entry needs a command');
  });

  it.each(Object.keys(CONTAINER_ONLY))('refuses %s on a process, at its key, saying why', (field) => {
    const valid: Record<string, string> = { image: '/img', hostname: 'h', net: 'new', pid: 'new', ipc: 'new', uts: 'new', userns: 'new', cgroupsPath: '/x', readonly: 'true', disableOOMKiller: 'true', rootfsPropagation: 'shared', sysctl: '{}', annotations: '{}', runtime: '{}', writableSize: '1m' };
    const value = valid[field] ?? '[]';
    const p = problems(`services:\n  - name: x\n    kind: process\n    command: [app]\n    ${field}: ${value}\n`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(new RegExp(`^keel\\.yml:5:5: services\\[0\\]\\.${field.replace('.', '\\.')}: not for a process entry \\(kind: process\\): .+; remove it, or run the entry as a container$`));
  });

  it('main names a service; a process uid names a user, not a container', () => {
    expect(problems('services:\n  - name: a\n    kind: process\n    command: [a]\nmain: b\n').join('\n')).toContain('main: "b" is not a service in this manifest');
    expect(problems('services:\n  - name: a\n    kind: process\n    command: [a]\n    uid: nobody\n')).toEqual([]);
    expect(problems('services:\n  - name: a\n    image: /img\n    uid: nobody\n').join('\n')).toContain('uid/gid "nobody" is neither a number');
  });
});

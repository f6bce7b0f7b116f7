import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { parseMountInfo } from '../machine/mounts.js';
import { parseStat } from '../../runtime/procfs.js';

describe('/proc parsers', () => {
  it('reads a stat line whose command has spaces and parentheses', () => {
    const st = parseStat('1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0');
    expect(st).toMatchObject({ pid: 1234, comm: 'my (odd) cmd', state: 'S', ppid: 1, flags: 4194560 });
  });

  it('reads mountinfo, including escaped spaces and the fstype after " - "', () => {
    const m = parseMountInfo('22 1 0:21 / / rw,relatime - rootfs rootfs rw\n30 22 0:5 / /mnt/a\\040b rw - tmpfs tmpfs rw\n');
    expect(m).toEqual([
      { id: 22, parent: 1, target: '/', fstype: 'rootfs', options: 'rw,relatime' },
      { id: 30, parent: 22, target: '/mnt/a b', fstype: 'tmpfs', options: 'rw' },
    ]);
  });
});

describe('keel-init arguments', () => {
  it('takes flags in both forms and ignores kernel words', () => {
    const a = parseArgs(['--manifest=/m.json', '--state-dir', '/s', 'quiet', 'console=ttyS0']);
    expect(a).toMatchObject({ manifest: '/m.json', stateDir: '/s', mode: 'auto', ignored: ['quiet', 'console=ttyS0'], errors: [] });
  });

  it('reports a flag without a value and a bad mode', () => {
    expect(parseArgs(['--manifest']).errors).toEqual(['--manifest needs a value']);
    expect(parseArgs(['--mode', 'vm']).errors[0]).toContain('expected machine, namespace, container or auto');
  });
});

describe('console= words', () => {
  it('gives each console device once, in order, without its options', async () => {
    const { parseConsoles } = await import('../console/consoles.js');
    expect(parseConsoles('BOOT_IMAGE=x console=tty0 quiet console=ttyS0,115200n8 console=tty0 console=/bad')).toEqual(['tty0', 'ttyS0']);
    expect(parseConsoles('quiet')).toEqual([]);
    const { activeConsole } = await import('../console/consoles.js');
    expect(activeConsole('tty0 ttyS0\n')).toBe('ttyS0');
    expect(activeConsole('')).toBeUndefined();
  });
});

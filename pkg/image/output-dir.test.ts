// keel build's output folder, checked before any work: made where missing,
// refused with the path and the reason where it cannot be (a file in the
// way, a read-only mount, /proc, where Node's own mkdir -p never returns).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputName, prepareOutputDir } from './output-dir.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-outdir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prepareOutputDir', () => {
  it('makes a folder and the ones missing above it', () => {
    const out = join(dir, 'a/b/c');
    expect(prepareOutputDir(out)).toBe(out);
    expect(statSync(out).isDirectory()).toBe(true);
  });

  it('refuses a file in the way, an empty name and a path under /proc, each naming the path', () => {
    writeFileSync(join(dir, 'afile'), '');
    expect(() => prepareOutputDir(join(dir, 'afile'))).toThrow(`--output ${join(dir, 'afile')}: ${join(dir, 'afile')} is not a folder`);
    expect(() => prepareOutputDir(join(dir, 'afile', 'sub'))).toThrow(`${join(dir, 'afile')} is not a folder`);
    expect(() => prepareOutputDir('/dev/null')).toThrow('/dev/null is not a folder');
    expect(() => prepareOutputDir('')).toThrow('--output is empty');
    expect(() => prepareOutputDir('/proc/keel-out')).toThrow('--output /proc/keel-out: cannot make /proc/keel-out: ');
  });

  it('refuses a read-only folder before anything is written', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', ro]).status).toBe(0);
    try {
      expect(() => prepareOutputDir(ro)).toThrow(`--output ${ro}: cannot write to ${ro}: a read-only file system`);
      expect(() => prepareOutputDir(join(ro, 'sub'))).toThrow(`cannot make ${join(ro, 'sub')}: a read-only file system`);
    } finally {
      spawnSync('umount', [ro]);
    }
  });
});

describe('checkOutputName', () => {
  it('takes a plain name and refuses one with a slash or nothing', () => {
    expect(() => checkOutputName('demo-1.2')).not.toThrow();
    expect(() => checkOutputName('bad/name')).toThrow('--name "bad/name": the outputs are named after it');
    expect(() => checkOutputName('')).toThrow('--name ""');
  });
});

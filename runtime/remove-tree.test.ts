// removeTree on real trees: nested directories go, a symlink goes without what it points to, and a
// path that is already gone or is a plain file is taken as it is.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTree } from './remove-tree.js';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'keel-remove-tree-'));
  made.push(d);
  return d;
}

describe('removeTree', () => {
  it('removes a bundle-like tree, nested directories and all', () => {
    const root = join(scratch(), 'bundle');
    mkdirSync(join(root, 'upper', 'etc', 'deep'), { recursive: true });
    mkdirSync(join(root, 'rootfs'));
    writeFileSync(join(root, 'config.json'), '{}');
    writeFileSync(join(root, 'upper', 'etc', 'deep', 'file'), 'x');
    removeTree(root);
    expect(existsSync(root)).toBe(false);
  });

  it('removes a symlink and never what it points to', () => {
    const base = scratch();
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'kept');
    const root = join(base, 'tree');
    mkdirSync(root);
    symlinkSync(outside, join(root, 'link-to-dir'));
    symlinkSync(join(outside, 'keep'), join(root, 'link-to-file'));
    removeTree(root);
    expect(existsSync(root)).toBe(false);
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('kept');
  });

  it('takes a path that is gone, or a plain file', () => {
    const base = scratch();
    expect(() => removeTree(join(base, 'missing'))).not.toThrow();
    writeFileSync(join(base, 'file'), 'x');
    removeTree(join(base, 'file'));
    expect(existsSync(join(base, 'file'))).toBe(false);
  });
});

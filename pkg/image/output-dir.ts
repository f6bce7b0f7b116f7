// Where keel build writes, checked before any work: a build that unpacks
// images and compresses an initramfs for a minute should not then fail on an
// output folder that is a file, read-only or nowhere. The folder is made one
// level at a time rather than with mkdir -p: Node 20's recursive mkdir loops
// forever on a path under /proc (mkdir of the child says ENOENT, of the
// parent EEXIST, over and over).
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BuildError } from './kernel.js';

const WHY: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'a read-only file system',
  ENOSPC: 'no space left on the device',
  ENOENT: 'the kernel refuses it (a virtual file system?)',
  EEXIST: 'something else appeared there',
};

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && WHY[e.code]) ?? e.message;
}

/** Names a build's files take (NAME-kernel, NAME.iso, …): one path component of the usual characters. */
export const OUTPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

export function checkOutputName(name: string): void {
  if (!OUTPUT_NAME.test(name)) throw new BuildError(`--name ${JSON.stringify(name)}: the outputs are named after it (NAME-kernel, NAME.iso); use letters, digits, ".", "_", "+" and "-"`);
}

/** Makes `dir` (and what is missing above it) and checks it can be written; throws a BuildError that names it and says why not. */
export function prepareOutputDir(dir: string): string {
  if (dir === '') throw new BuildError('--output is empty: give the folder the outputs go to (-o DIR)');
  const full = resolve(dir);
  const missing: string[] = [];
  let at = full;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch {
      missing.unshift(at);
      at = dirname(at);
      continue;
    }
    if (!isDir) throw new BuildError(`--output ${dir}: ${at} is not a folder`);
    break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      throw new BuildError(`--output ${dir}: cannot make ${d}: ${why(err)}`);
    }
  }
  try {
    accessSync(full, constants.W_OK);
  } catch (err) {
    throw new BuildError(`--output ${dir}: cannot write to ${full}: ${why(err)}`);
  }
  return full;
}

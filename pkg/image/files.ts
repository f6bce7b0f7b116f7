// The manifest's `files:` section turned into initramfs entries.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FileEntry } from '../../model/index.js';
import { manifestAsWritten } from '../../model/as-written.js';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';

// LinuxKit's defaults: files are private to root unless a mode is given.
const DEFAULT_FILE_MODE = 0o600;
const DEFAULT_DIR_MODE = 0o755;

/** Owners for copied trees: fixed ids (the files: section), or each file's own (container images). */
export type TreeOwner = { uid: number; gid: number } | 'keep';

export function hostTree(src: string, at: string, owner: TreeOwner, mode: number | undefined): CpioEntry[] {
  const st = lstatSync(src);
  const { uid, gid } = owner === 'keep' ? { uid: st.uid, gid: st.gid } : owner;
  if (st.isSymbolicLink()) return [{ path: at, type: 'symlink', target: readlinkSync(src), uid, gid }];
  if (st.isDirectory()) {
    const out: CpioEntry[] = [{ path: at, type: 'dir', mode: mode ?? st.mode & 0o7777, uid, gid }];
    for (const name of readdirSync(src).sort()) out.push(...hostTree(join(src, name), `${at}/${name}`, owner, undefined));
    return out;
  }
  if (st.isFile()) return [{ path: at, type: 'file', mode: mode ?? st.mode & 0o7777, data: readFileSync(src), uid, gid }];
  // Images may carry device nodes (/dev/null in old base images); the cpio keeps character devices.
  if (st.isCharacterDevice()) return [{ path: at, type: 'char', mode: st.mode & 0o7777, major: Math.floor(st.rdev / 256) & 0xfff, minor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00), uid, gid }];
  throw new BuildError(`${src} is not a regular file, directory, symlink or character device; keel images cannot carry it`);
}

export function fileEntries(files: readonly FileEntry[], baseDir: string, manifestFile: string): CpioEntry[] {
  const out: CpioEntry[] = [];
  files.forEach((f, i) => {
    const where = `${manifestFile}: files[${i}] (${f.path})`;
    const owner = { uid: f.uid, gid: f.gid };
    if (f.directory) out.push({ path: f.path, type: 'dir', mode: f.mode ?? DEFAULT_DIR_MODE, ...owner });
    else if (f.symlink !== undefined) out.push({ path: f.path, type: 'symlink', target: f.symlink, ...owner });
    else if (f.source !== undefined) {
      const src = resolve(baseDir, f.source);
      if (!existsSync(src)) {
        if (f.optional) return;
        throw new BuildError(`${where}: source ${src} does not exist (add "optional: true" to skip a missing source)`);
      }
      out.push(...hostTree(src, f.path, { uid: f.uid, gid: f.gid }, f.mode));
    } else {
      const contents = f.metadata ? manifestAsWritten(manifestFile, f.metadata) : (f.contents ?? '');
      out.push({ path: f.path, type: 'file', mode: f.mode ?? DEFAULT_FILE_MODE, data: Buffer.from(contents), ...owner });
    }
  });
  return out;
}

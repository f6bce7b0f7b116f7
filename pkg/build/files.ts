// The manifest's `files:` section turned into initramfs entries.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FileEntry } from '../manifest/index.js';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';

// LinuxKit's defaults: files are private to root unless a mode is given.
const DEFAULT_FILE_MODE = 0o600;
const DEFAULT_DIR_MODE = 0o755;

export function hostTree(src: string, at: string, uid: number, gid: number, mode: number | undefined): CpioEntry[] {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return [{ path: at, type: 'symlink', target: readlinkSync(src), uid, gid }];
  if (st.isDirectory()) {
    const out: CpioEntry[] = [{ path: at, type: 'dir', mode: mode ?? st.mode & 0o7777, uid, gid }];
    for (const name of readdirSync(src).sort()) out.push(...hostTree(join(src, name), `${at}/${name}`, uid, gid, undefined));
    return out;
  }
  if (st.isFile()) return [{ path: at, type: 'file', mode: mode ?? st.mode & 0o7777, data: readFileSync(src), uid, gid }];
  throw new BuildError(`files: ${src} is not a regular file, directory or symlink`);
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
      out.push(...hostTree(src, f.path, f.uid, f.gid, f.mode));
    } else {
      out.push({ path: f.path, type: 'file', mode: f.mode ?? DEFAULT_FILE_MODE, data: Buffer.from(f.contents ?? ''), ...owner });
    }
  });
  return out;
}

// Applying image layers (tar files, possibly compressed) to a root filesystem
// directory with GNU tar, honouring the OCI/AUFS whiteouts: ".wh.NAME" deletes
// NAME from the layers below, ".wh..wh..opq" empties its directory of what
// the layers below put there. Whiteouts are applied before the layer's own
// files are extracted, so a layer may delete a path and recreate it.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, posix } from 'node:path';
import { BuildError } from '../kernel.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

function tar(args: string[], what: string): string {
  // Large layers list many paths; give tar room to print them.
  const r = spawnSync('tar', args, { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (r.error) throw new BuildError(`${what}: cannot run tar: ${r.error.message}`);
  if (r.status !== 0) throw new BuildError(`${what}: tar ${args[0]} failed: ${(r.stderr ?? '').trim().split('\n').slice(-3).join('; ')}`);
  return r.stdout;
}

/** A layer path made safe to join below the root: no leading "/" or "./", no "..". */
function inside(root: string, entry: string, what: string): string {
  const rel = normalize(entry.replace(/^(\.?\/)+/, ''));
  if (rel === '..' || rel.startsWith('../')) throw new BuildError(`${what}: layer entry ${JSON.stringify(entry)} points outside the image`);
  return join(root, rel);
}

function applyWhiteouts(root: string, entries: string[], what: string): void {
  for (const entry of entries) {
    const base = entry.replace(/\/+$/, '').split('/').pop() ?? '';
    if (!base.startsWith(WHITEOUT)) continue;
    const dir = dirname(inside(root, entry, what));
    if (base === OPAQUE) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue; // nothing below to hide
      }
      for (const n of names) rmSync(join(dir, n), { recursive: true, force: true });
    } else {
      rmSync(join(dir, base.slice(WHITEOUT.length)), { recursive: true, force: true });
    }
  }
}

/**
 * GNU tar follows a symlink it finds on the way to an entry (it must, or a
 * usrmerge image's relative "lib -> usr/lib" would be replaced by a
 * directory). A link that is absolute or climbs out of the image would then
 * let a layer write to the build host, so entries below such a link are refused.
 */
function refuseEscapingLinks(root: string, entries: string[], what: string): void {
  const checked = new Set<string>();
  for (const entry of entries) {
    const parts = entry.replace(/^(\.?\/)+/, '').split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (checked.has(rel)) continue;
      checked.add(rel);
      let target: string;
      try {
        if (!lstatSync(join(root, rel)).isSymbolicLink()) continue;
        target = readlinkSync(join(root, rel));
      } catch {
        continue;
      }
      const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
      if (isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
        throw new BuildError(`${what}: layer entry ${JSON.stringify(entry)} lies below the symlink /${rel} -> ${target}, which points outside the image; keel build refuses to follow it`);
      }
    }
  }
}

/**
 * Extracts one layer into root. Runs as root, so owners, modes and device
 * nodes are kept as the layer says (--numeric-owner: the host's user names
 * mean nothing for the image).
 */
export function applyLayer(root: string, layer: string, what: string): void {
  mkdirSync(root, { recursive: true });
  const entries = tar(['-tf', layer], what).split('\n').filter(Boolean);
  refuseEscapingLinks(root, entries, what);
  applyWhiteouts(root, entries, what);
  tar(['-xf', layer, '-C', root, '--numeric-owner', '--same-owner', '--same-permissions', '--keep-directory-symlink', '--exclude=.wh.*', '--exclude=*/.wh.*'], what);
}

/** Extracts a whole archive (not a layer: no whiteouts) into dir. */
export function extractArchive(archive: string, dir: string, what: string): void {
  mkdirSync(dir, { recursive: true });
  tar(['-xf', archive, '-C', dir, '--numeric-owner'], what);
}

/** Whether path names a regular file (lstat, so a symlink in a layer is not followed). */
export function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

// Paths inside an image root on the build host. A path from a layer is
// "rel": slash-separated, relative to the root, no "." or ".." parts. The
// root is a directory of the host, so a symlink in it (an absolute one, or
// one with enough "..") would lead a naive path join out to the host's own
// files; walkInRoot follows symlinks the way the kernel would inside a
// chroot at the root instead: absolute targets start at the root and ".."
// stops there.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';

/** The kernel's limit on symlinks followed in one lookup (ELOOP past it). */
const MAX_SYMLINKS = 40;

export class RootPathError extends Error {
  override name = 'RootPathError';
}

export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export const relJoin = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);

export const relParent = (rel: string): string => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));

export const relBase = (rel: string): string => rel.slice(rel.lastIndexOf('/') + 1);

/**
 * A name from a tar header as a rel path ('' for the root itself), or
 * undefined when its ".." parts climb above the root. As in Go's
 * filepath.Clean, ".." at the top of an absolute name stays at the root.
 */
export function cleanName(name: string): string | undefined {
  const rooted = name.startsWith('/');
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length) parts.pop();
      else if (!rooted) return undefined;
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/**
 * Resolves `path` (a symlink's target, or a hard link's directory) from the
 * directory `from`, following every symlink on the way inside the root.
 * Every part must be an existing directory; returns the rel path reached.
 */
export function walkInRoot(root: string, from: string, path: string, hops = { left: MAX_SYMLINKS }): string {
  const at = path.startsWith('/') ? [] : from.split('/').filter(Boolean);
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      at.pop();
      continue;
    }
    const rel = [...at, part].join('/');
    const st = lstatOrUndefined(`${root}/${rel}`);
    if (!st) throw new RootPathError(`/${rel} does not exist`);
    if (st.isSymbolicLink()) {
      if (--hops.left < 0) throw new RootPathError(`too many levels of symbolic links at /${rel}`);
      const reached = walkInRoot(root, at.join('/'), readlinkSync(`${root}/${rel}`), hops);
      at.splice(0, at.length, ...reached.split('/').filter(Boolean));
      continue;
    }
    if (!st.isDirectory()) throw new RootPathError(`/${rel} is not a directory`);
    at.push(part);
  }
  return at.join('/');
}

/** Whether rel and every directory above it are real directories (no symlink on the way), remembered per instance. */
export class RealDirs {
  private readonly known = new Map<string, boolean>([['', true]]);

  constructor(private readonly root: string) {}

  has(rel: string): boolean {
    const known = this.known.get(rel);
    if (known !== undefined) return known;
    const real = this.has(relParent(rel)) && lstatOrUndefined(`${this.root}/${rel}`)?.isDirectory() === true;
    this.known.set(rel, real);
    return real;
  }
}

// keel.lock: the image each reference resolved to, beside the manifest
// (keel.yml → keel.lock), so the next build uses the same bytes even when a
// tag has moved. Written only when it changes; `--update-lock` re-resolves.
// It records the architecture its images are for: image ids differ per
// architecture, so an image for another one is built with --update-lock.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BuildError } from '../kernel.js';

export const LOCK_FORMAT = 'keel-lock/1';

export interface LockedImage {
  /** sha256 of the image config (Docker's image id). */
  id: string;
  /** registry/repo@sha256:… for images that came from a registry. */
  repoDigest?: string;
}

export interface LockFile {
  format: typeof LOCK_FORMAT;
  /** Debian's name of the architecture the images are for; a lock without it was written for amd64. */
  arch?: string;
  images: Record<string, LockedImage>;
}

export function lockPathFor(manifestPath: string): string {
  return join(dirname(manifestPath), `${basename(manifestPath).replace(/\.(ya?ml|json)$/, '')}.lock`);
}

export function readLock(path: string): LockFile {
  if (!existsSync(path)) return { format: LOCK_FORMAT, images: {} };
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BuildError(`${path}: not valid JSON (${(err as Error).message}); delete it or rebuild with --update-lock`);
  }
  const lock = data as Partial<LockFile>;
  if (lock.format !== LOCK_FORMAT || typeof lock.images !== 'object' || lock.images === null) {
    throw new BuildError(`${path}: not a ${LOCK_FORMAT} lock file; delete it or rebuild with --update-lock`);
  }
  for (const [ref, v] of Object.entries(lock.images)) {
    if (typeof v?.id !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(v.id)) throw new BuildError(`${path}: images["${ref}"].id must be sha256:<64 hex digits>`);
  }
  return lock as LockFile;
}

/** The lock's pins for an image of `arch`; pins made for another architecture are refused, naming the fix. */
export function lockedImages(lock: LockFile, arch: string, path: string): Record<string, LockedImage> {
  const lockArch = lock.arch ?? 'amd64';
  if (lockArch !== arch && Object.keys(lock.images).length > 0) {
    throw new BuildError(`${path} pins images for ${lockArch}, and this build is for ${arch}\n  fix: rebuild with --update-lock to pin the ${arch} images (a lock pins one architecture's; keep one manifest per architecture to keep both)`);
  }
  return lock.images;
}

export function lockText(images: Record<string, LockedImage>, arch = 'amd64'): string {
  const sorted = Object.fromEntries(Object.keys(images).sort().map((k) => [k, images[k]!]));
  return JSON.stringify({ format: LOCK_FORMAT, arch, images: sorted }, null, 2) + '\n';
}

/** Writes the lock when its text changes; returns whether it did. */
export function writeLock(path: string, images: Record<string, LockedImage>, arch = 'amd64'): boolean {
  const text = lockText(images, arch);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  if (!existsSync(path) && Object.keys(images).length === 0) return false;
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
  return true;
}

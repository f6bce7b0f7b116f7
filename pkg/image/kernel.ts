// Finding the kernel to boot: a Debian kernel package (downloaded with
// apt-get into the cache and unpacked), a .deb on disk, or a plain
// bzImage/vmlinuz file.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { cacheDir, scratchDone, scratchFor } from './cache.js';
import { megabytes, silentProgress, type Progress } from './sources/progress.js';

/** The kernel keel builds with when a manifest names none: the one place it is pinned. */
export const DEFAULT_KERNEL_PACKAGE = 'linux-image-6.1.0-50-amd64';

export class BuildError extends Error {
  override name = 'BuildError';
}

export interface ResolvedKernel {
  /** The bzImage to boot. */
  image: string;
  /** Root of the unpacked package (lib/modules/VERSION lives below it), if from a package. */
  root?: string;
  /** The kernel release (uname -r), if known. */
  release?: string;
  source: string;
}

function run(cmd: string, args: string[], cwd?: string): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function fromUnpacked(root: string, source: string): ResolvedKernel {
  const boot = join(root, 'boot');
  const vmlinuz = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
  if (!vmlinuz) throw new BuildError(`${source}: no boot/vmlinuz-* in the package; is it a linux-image package?`);
  return { image: join(boot, vmlinuz), root, release: vmlinuz.slice('vmlinuz-'.length), source };
}

/** Unpacks .deb files, in order, into one new directory `into` (through a scratch directory renamed into place). */
export function unpackDebs(debs: readonly string[], into: string, source: string): void {
  const tmp = scratchFor(into);
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const deb of debs) {
      const r = run('dpkg-deb', ['-x', deb, tmp]);
      if (!r.ok) {
        rmSync(tmp, { recursive: true, force: true });
        throw new BuildError(`${source}: dpkg-deb -x ${deb} failed: ${r.output}`);
      }
    }
    rmSync(into, { recursive: true, force: true });
    renameSync(tmp, into); // atomic: a half-unpacked package is never seen as cached
  } finally {
    scratchDone(tmp);
  }
}

function unpackDeb(deb: string, into: string, source: string): ResolvedKernel {
  unpackDebs([deb], into, source);
  return fromUnpacked(into, source);
}

/** The package's size as the archive lists it, for the download's progress; undefined if apt does not say. */
function packageSize(pkg: string, apt: readonly string[]): number | undefined {
  const r = run('apt-cache', [...apt, 'show', '--no-all-versions', pkg]);
  const m = /^Size: (\d+)$/m.exec(r.output);
  return m ? Number(m[1]) : undefined;
}

/** The bytes in a folder's files (apt writes the package there as it arrives). */
function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** apt-get download into `dir`, its bytes so far shown as they arrive. */
function download(pkg: string, dir: string, progress: Progress, apt: readonly string[]): Promise<{ ok: boolean; output: string }> {
  const total = packageSize(pkg, apt);
  const of = total ? ` of ${megabytes(total)}` : '';
  progress.step(`downloading the kernel ${pkg}${total ? ` (${megabytes(total)})` : ''}`);
  return new Promise((resolveDownload) => {
    const child = spawn('apt-get', [...apt, 'download', pkg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setInterval(() => progress.update(`downloading the kernel ${pkg}: ${megabytes(folderBytes(dir))}${of}`), 200);
    const end = (ok: boolean, more = '') => {
      clearInterval(timer);
      resolveDownload({ ok, output: `${output}${more}`.trim() });
    };
    child.on('error', (err) => end(false, err.message));
    child.on('close', (code) => end(code === 0));
  });
}

/** Downloads (if not cached) and unpacks a Debian kernel package; `apt` options fetch another architecture's (arch-root.ts). */
export async function fetchKernelPackage(pkg: string, progress: Progress = silentProgress, apt: readonly string[] = []): Promise<ResolvedKernel> {
  if (!/^linux-image-[A-Za-z0-9.+~-]+$/.test(pkg)) throw new BuildError(`${JSON.stringify(pkg)} is not a Debian kernel package name (linux-image-…)`);
  const dir = join(cacheDir(), 'kernels', pkg);
  if (existsSync(join(dir, 'boot'))) return fromUnpacked(dir, pkg);
  const downloads = join(cacheDir(), 'downloads');
  // apt writes the package where it runs: in a scratch directory, moved into downloads/ once whole.
  const dl = scratchFor(join(downloads, pkg));
  mkdirSync(dl, { recursive: true });
  const r = await download(pkg, dl, progress, apt);
  const got = readdirSync(dl).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  const deb = got && r.ok ? join(downloads, got) : undefined;
  if (deb) renameSync(join(dl, got!), deb);
  rmSync(dl, { recursive: true, force: true });
  scratchDone(dl);
  if (!deb) {
    throw new BuildError(
      `could not download the kernel package ${pkg}: ${r.output.split('\n').pop() ?? ''}\n` +
        `  fix: run "apt-get update" (as root) and check that ${pkg} exists ("apt-cache policy ${pkg}"), or set kernel.image to a .deb or vmlinuz path`,
    );
  }
  progress.done(`downloaded the kernel ${pkg} (${megabytes(statSync(deb).size)})`);
  progress.step(`unpacking the kernel ${pkg}`);
  return unpackDeb(deb, dir, pkg);
}

/** `packages`: the kernel package when the manifest names none, and the apt options packages are fetched with (another architecture's). */
export async function resolveKernel(
  image: string | undefined,
  baseDir: string,
  progress: Progress = silentProgress,
  packages: { fallback: string; apt: readonly string[] } = { fallback: DEFAULT_KERNEL_PACKAGE, apt: [] },
): Promise<ResolvedKernel> {
  const ref = image ?? packages.fallback;
  if (ref.startsWith('linux-image-') && !ref.endsWith('.deb') && !existsSync(resolve(baseDir, ref))) return fetchKernelPackage(ref, progress, packages.apt);
  const path = resolve(baseDir, ref);
  if (!existsSync(path)) throw new BuildError(`kernel.image: ${path} does not exist (give a Debian kernel package name, a .deb, or a vmlinuz path)`);
  if (path.endsWith('.deb')) {
    const st = statSync(path);
    const dir = join(cacheDir(), 'kernels', `${basename(path, '.deb')}-${st.size}-${Math.round(st.mtimeMs)}`);
    return existsSync(join(dir, 'boot')) ? fromUnpacked(dir, ref) : unpackDeb(path, dir, ref);
  }
  return { image: path, source: ref };
}

/**
 * Whether a file is a bootable kernel: an x86 bzImage carries "HdrS" at
 * 0x202 (the boot protocol's header), an arm64 Image "ARM\x64" at 0x38.
 */
export function kernelKind(path: string): 'x86' | 'arm64' | undefined {
  const head = Buffer.alloc(0x210);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1', 0x202, 0x206) === 'HdrS') return 'x86';
  if (head.toString('latin1', 0x38, 0x3c) === 'ARM\x64') return 'arm64';
  return undefined;
}

/** `arch`, when given, is the image's (Debian's name): a kernel of the other kind is refused. */
export function assertKernelImage(path: string, what: string, arch?: 'amd64' | 'arm64'): void {
  const kind = kernelKind(path);
  if (!kind) {
    throw new BuildError(`${what}: ${path} is not a kernel (no bzImage header, no arm64 Image magic)\n  fix: give a linux-image package name, its .deb, a bzImage/vmlinuz file, or a LinuxKit kernel image`);
  }
  const wanted = arch === 'amd64' ? 'x86' : arch;
  if (wanted && kind !== wanted) throw new BuildError(`${what}: ${path} is an ${kind === 'x86' ? 'x86-64' : 'arm64'} kernel, and this image is for ${arch}\n  fix: give a kernel for ${arch} (linux-image-…-${arch}), or build with --arch ${kind === 'x86' ? 'amd64' : 'arm64'}`);
}

// A LinuxKit-style kernel image as the kernel source: an image holding the
// bzImage (kernel.binary, default "kernel") and a tar of lib/modules
// (kernel.tar, default "kernel.tar"; "none" for no modules), optionally a
// microcode cpio (kernel.ucode) that goes in front of the initramfs.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KernelSpec } from '../../model/index.js';
import { archBoot, hostArch, type Arch } from './arch.js';
import { aptOptions, updateArchLists } from './arch-root.js';
import { BuildError, resolveKernel, type ResolvedKernel } from './kernel.js';
import { extractArchive, isFile } from './sources/layers.js';
import { resolveRef, type ImageContext } from './images.js';
import { looksLikePath } from './sources/resolve.js';
import { lookup, store } from './sources/store.js';

export interface KernelWithUcode extends ResolvedKernel {
  /** An uncompressed cpio of CPU microcode, placed before the initramfs. */
  ucode?: Buffer;
}

/** Whether kernel.image names an image (engine reference, directory, docker save archive) rather than a Debian package, .deb or bzImage. */
function isImageReference(image: string, baseDir: string): boolean {
  const path = resolve(baseDir, image.replace(/#[^/]*$/, ''));
  if (existsSync(path)) return statSync(path).isDirectory() || path.endsWith('.tar');
  return !image.startsWith('linux-image-') && !looksLikePath(image) && !image.endsWith('.deb');
}

/** kernel.image when it names an image to resolve (the preflight resolves it with the others), else undefined. */
export function kernelImageRef(spec: KernelSpec | undefined, baseDir: string): string | undefined {
  const ref = spec?.image;
  return ref && isImageReference(ref, baseDir) ? ref : undefined;
}

/** Resolves kernel.image's image; a failure also says that without kernel.image keel boots its own kernel. */
export async function resolveKernelImage(ref: string, ctx: ImageContext, what: string): Promise<void> {
  try {
    await resolveRef(ref, ctx, what);
  } catch (err) {
    if (!(err instanceof BuildError)) throw err;
    const fallback = archBoot(ctx.arch ?? hostArch()).kernelPackage;
    throw new BuildError(`${err.message}\n  kernel.image may also be left out: keel then boots its default Debian kernel (${fallback})`);
  }
}

/** A file of the kernel image that kernel.FIELD names, or why not, said at the manifest with the field that names it. */
function inImage(rootfs: string, rel: string, field: string, ref: string, manifestFile: string): string {
  const path = join(rootfs, rel.replace(/^\/+/, ''));
  if (!isFile(path)) throw new BuildError(`${manifestFile}: kernel.${field}: ${rel} is not a file in the image ${ref}\n  fix: set kernel.${field} to its path in the image (a LinuxKit kernel image has kernel, kernel.tar and, for ucode, ucode.cpio at its root)`);
  return path;
}

/** The default kernel package of an architecture, and for another one than this machine's, the apt that fetches it. */
export function kernelPackages(arch: Arch = hostArch()): { fallback: string; apt: readonly string[] } {
  const fallback = archBoot(arch).kernelPackage;
  if (arch === hostArch()) return { fallback, apt: [] };
  updateArchLists(arch);
  return { fallback, apt: aptOptions(arch) };
}

export async function resolveKernelSource(spec: KernelSpec | undefined, ctx: ImageContext): Promise<KernelWithUcode> {
  const { baseDir, manifestFile } = ctx;
  const ref = kernelImageRef(spec, baseDir);
  if (!ref) {
    for (const f of ['binary', 'tar', 'ucode'] as const) {
      if (spec?.[f] !== undefined) throw new BuildError(`${manifestFile}: kernel.${f} applies only when kernel.image is a kernel image (kernel + kernel.tar), not ${spec?.image ?? 'the default Debian kernel'}`);
    }
    return resolveKernel(spec?.image, baseDir, ctx.progress, kernelPackages(ctx.arch));
  }
  const src = await resolveRef(ref, ctx, `${manifestFile}: kernel.image`);
  const image = inImage(src.rootfs, spec?.binary ?? 'kernel', 'binary', ref, manifestFile);
  const ucode = spec?.ucode ? readFileSync(inImage(src.rootfs, spec.ucode, 'ucode', ref, manifestFile)) : undefined;
  const tarName = spec?.tar ?? 'kernel.tar';
  const base: KernelWithUcode = { image, source: ref, ...(ucode ? { ucode } : {}) };
  if (tarName === 'none') return base;
  const tar = inImage(src.rootfs, tarName, 'tar', ref, manifestFile);
  // The modules tar is unpacked once per content, beside the images.
  const key = `modules-${createHash('sha256').update(readFileSync(tar)).digest('hex')}`;
  const unpacked = lookup(key) ?? (await store(key, {}, (root) => extractArchive(tar, root, `kernel.tar of ${ref}`)));
  const modules = join(unpacked.rootfs, 'lib', 'modules');
  const releases = existsSync(modules) ? readdirSync(modules) : [];
  if (releases.length !== 1) throw new BuildError(`${manifestFile}: kernel.tar of ${ref}: expected one lib/modules/RELEASE directory, found ${releases.length ? releases.join(', ') : 'none'}`);
  return { ...base, root: unpacked.rootfs, release: releases[0]! };
}

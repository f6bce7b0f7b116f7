// Container and init images into the initramfs. Each distinct image is
// placed once, at /images/NAME/{rootfs,keel-image.json}, and every manifest
// entry that names it is rewritten to point there. init images are unpacked
// into the root filesystem itself, as LinuxKit does.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KEEL_IMAGE_CONFIG } from '../../runtime/bundle.js';
import { replacedByKeel, type Manifest } from '../../model/index.js';
import type { Arch } from './arch.js';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';
import { hostTree, type TreeOwner } from './files.js';
import type { LockedImage } from './sources/lock.js';
import { prefixed, type Progress } from './sources/progress.js';
import { resolveImage, type ResolvedSource } from './sources/resolve.js';

const PHASES = ['onboot', 'services', 'onshutdown'] as const;

export interface ImageContext {
  baseDir: string;
  manifestFile: string;
  /** The lock as read (empty with --update-lock). */
  locked: Record<string, LockedImage>;
  /** Filled with what each reference resolved to, for the new lock. */
  resolved: Record<string, LockedImage>;
  progress: Progress;
  /** Each reference resolved once per build (the preflight resolves them all first). */
  sources?: Map<string, ResolvedSource>;
  /** The image's architecture: an image of another is refused (this machine's when not given). */
  arch?: Arch;
  /** Packages fetched anew rather than from the cache (keel build --update-lock): another architecture's runc, busybox and libraries. */
  refresh?: boolean;
  /** How many distinct references the manifest names, kernel.image's included, for "image N of M" (the preflight counts them). */
  imageCount?: number;
  /** References that failed, each with why (its message after the "what: " of the entry that first named it). */
  failures?: Map<string, string>;
}

/**
 * Resolves each reference once per build, whether it resolves or fails: a second entry that names an image
 * that failed gets the same reason at its own place, without a second attempt or a second progress line.
 */
export async function resolveRef(ref: string, ctx: ImageContext, what: string): Promise<ResolvedSource> {
  ctx.sources ??= new Map();
  ctx.failures ??= new Map();
  const known = ctx.sources.get(ref);
  if (known) return known;
  const failed = ctx.failures.get(ref);
  if (failed !== undefined) throw new BuildError(`${what}: ${failed}`);
  const n = ctx.sources.size + ctx.failures.size + 1;
  try {
    const src = await resolveAs(ref, ctx, what, `image ${n} of ${Math.max(n, ctx.imageCount ?? n)}`);
    ctx.sources.set(ref, src);
    return src;
  } catch (err) {
    if (err instanceof BuildError) ctx.failures.set(ref, err.message.startsWith(`${what}: `) ? err.message.slice(what.length + 2) : err.message);
    throw err;
  }
}

async function resolveAs(ref: string, ctx: ImageContext, what: string, counter: string): Promise<ResolvedSource> {
  const progress = prefixed(ctx.progress, counter);
  progress.step(ref);
  const src = await resolveImage(ref, ctx.baseDir, ctx.locked[ref], progress, what, ctx.arch);
  if (ctx.arch && src.architecture && src.architecture !== ctx.arch) {
    throw new BuildError(`${what}: ${ref} is an image for linux/${src.architecture}, and this image is for ${ctx.arch}\n  fix: use its linux/${ctx.arch} variant (docker pull --platform linux/${ctx.arch} ${ref}), or build with --arch ${src.architecture}`);
  }
  if (src.lock) ctx.resolved[ref] = src.lock;
  return src;
}

// A local directory keeps the old rule (its files become root's: it was
// probably made by an unprivileged user); unpacked images keep their owners.
const ownerOf = (src: ResolvedSource): TreeOwner => (src.kind === 'directory' ? { uid: 0, gid: 0 } : 'keep');

/** An image's files (not its root directory itself) as entries below `at` ("" for the root). */
export function imageFiles(src: ResolvedSource, at: string): CpioEntry[] {
  return readdirSync(src.rootfs)
    .sort()
    .flatMap((name) => hostTree(join(src.rootfs, name), `${at}/${name}`, ownerOf(src), undefined));
}

export async function containerImages(manifest: Manifest, ctx: ImageContext): Promise<{ entries: CpioEntry[]; manifest: Manifest }> {
  const entries: CpioEntry[] = [];
  const placed = new Map<string, string>();
  const names = new Set<string>();
  const out: Manifest = { ...manifest, onboot: [...manifest.onboot], services: [...manifest.services], onshutdown: [...manifest.onshutdown] };
  for (const phase of PHASES) {
    for (const [i, c] of out[phase].entries()) {
      // A process entry has no image: it runs in the root keel runs in.
      if (c.image === undefined) continue;
      const src = await resolveRef(c.image, ctx, `${ctx.manifestFile}: ${phase}[${i}] (${c.name})`);
      let at = placed.get(src.key);
      if (!at) {
        // Images by id get its first 12 hex digits (as `docker images` shows); directories their own name.
        let name = src.kind === 'directory' ? basename(src.key.slice('dir:'.length)) : src.key.slice('sha256:'.length, 19);
        for (let n = 2; names.has(name); n++) name = `${name.replace(/-\d+$/, '')}-${n}`;
        names.add(name);
        at = `/images/${name}`;
        placed.set(src.key, at);
        entries.push(
          ...hostTree(src.rootfs, `${at}/rootfs`, ownerOf(src), 0o755),
          { path: `${at}/${KEEL_IMAGE_CONFIG}`, type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify(src.config, null, 2) + '\n') },
        );
      }
      (out[phase] as Array<typeof c>)[i] = { ...c, image: at };
    }
  }
  return { entries, manifest: out };
}

/** init: images, layered in order into the root; keel's own files are added after them and win. */
export async function initImages(manifest: Manifest, ctx: ImageContext): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  for (const [i, ref] of manifest.init.entries()) {
    if (replacedByKeel(ref)) continue; // said by manifestWarnings: keel is the init
    const src = await resolveRef(ref, ctx, `${ctx.manifestFile}: init[${i}]`);
    entries.push(...imageFiles(src, ''));
  }
  return entries;
}

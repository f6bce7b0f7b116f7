// What an `image:` string names, and the unpacked image it resolves to:
//   an existing directory      → an OCI layout (oci-layout + index.json), else a root filesystem or OCI bundle
//   an existing file           → a `docker save` archive
//   ./x, ../x, /x that is missing → an error (a path was meant)
//   anything else              → a reference in the Docker engine (pulled when missing)
// Archives and layouts holding several images take PATH#NAME to pick one.
import { existsSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { resolveLocalImage } from '../../../runtime/bundle.js';
import { SpecError, type ImageConfig } from '../../../runtime/oci-spec.js';
import { BuildError } from '../kernel.js';
import { fromDockerArchive } from './docker-archive.js';
import { fromEngine } from './docker-engine.js';
import type { LockedImage } from './lock.js';
import { fromOciLayout, isOciLayout } from './oci-layout.js';
import type { Progress } from './progress.js';

export type SourceKind = 'directory' | 'oci-layout' | 'docker-archive' | 'engine';

export interface ResolvedSource {
  kind: SourceKind;
  /** Identifies identical images: the image id, or the directory's path. */
  key: string;
  rootfs: string;
  config: ImageConfig;
  /** What keel.lock records for this reference (not for directories). */
  lock?: LockedImage;
  /** The CPU architecture the image says it is for, where its source says (the Docker engine). */
  architecture?: string;
}

// Docker's reference grammar, loosely: [host[:port]/]path[:tag][@digest].
export const REFERENCE = /^(?:[A-Za-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

export function looksLikePath(image: string): boolean {
  return /^(\.{1,2}\/|\/)/.test(image) || image === '.' || image === '..';
}

const architectureOf = (s: { architecture?: string }) => (s.architecture ? { architecture: s.architecture } : {});

function checkLocked(ref: string, got: string, locked: LockedImage | undefined, what: string): void {
  if (locked && locked.id !== got) {
    throw new BuildError(`${what}: ${ref} is now ${got.slice(0, 19)}…, but keel.lock pins ${locked.id.slice(0, 19)}…\n  fix: rebuild with --update-lock to accept the new image`);
  }
}

/** `arch`: the architecture a missing engine image is pulled for (the engine's own by default). */
export async function resolveImage(image: string, baseDir: string, locked: LockedImage | undefined, progress: Progress, what: string, arch?: string): Promise<ResolvedSource> {
  const hash = image.lastIndexOf('#');
  const pathPart = hash > 0 ? image.slice(0, hash) : image;
  const name = hash > 0 ? image.slice(hash + 1) : undefined;
  const path = resolvePath(baseDir, pathPart);
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) {
      if (isOciLayout(path)) {
        const s = await fromOciLayout(path, name, what, arch);
        checkLocked(image, s.id, locked, what);
        return { kind: 'oci-layout', key: s.id, rootfs: s.rootfs, config: s.config, lock: { id: s.id }, ...architectureOf(s) };
      }
      try {
        const local = resolveLocalImage(path, baseDir);
        return { kind: 'directory', key: `dir:${path}`, rootfs: local.rootfs, config: local.config };
      } catch (err) {
        if (err instanceof SpecError) throw new BuildError(`${what}: ${err.message}`);
        throw err;
      }
    }
    const s = await fromDockerArchive(path, name, what);
    checkLocked(image, s.id, locked, what);
    return { kind: 'docker-archive', key: s.id, rootfs: s.rootfs, config: s.config, lock: { id: s.id }, ...architectureOf(s) };
  }
  if (looksLikePath(image) || hash > 0) throw new BuildError(`${what}: image ${image}: ${path} does not exist`);
  if (!REFERENCE.test(image)) {
    throw new BuildError(`${what}: image ${JSON.stringify(image)} is neither an existing path (relative to ${baseDir}) nor an image reference like alpine:3.20 or registry:5000/team/app@sha256:…`);
  }
  const e = await fromEngine(image, locked, progress, what, arch ? `linux/${arch}` : undefined);
  const lock = { id: e.id, ...(e.repoDigest ? { repoDigest: e.repoDigest } : {}) };
  return { kind: 'engine', key: e.id, rootfs: e.rootfs, config: e.config, lock, ...architectureOf(e) };
}

// Unpacked images on the build host, one directory per image id (the
// sha256 of its config), so an image named by several containers, or by
// several builds, is unpacked once: CACHE/images/HEX/{rootfs,keel-image.json}.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEEL_IMAGE_CONFIG as IMAGE_CONFIG_FILE, readKeelImage } from '../../../runtime/bundle.js';
import type { ImageConfig } from '../../../runtime/oci-spec.js';
import { cacheDir, scratchDone, scratchFor } from '../cache.js';

export interface StoredImage {
  /** The store key: "sha256:HEX" of the image config (Docker's image id) for images. */
  id: string;
  rootfs: string;
  config: ImageConfig;
  /** The CPU architecture the image's config names (amd64, arm64), as read at this build: not kept in the store. */
  architecture?: string;
}


/** The directory name for a key: the hex of an image id, or a plain name like modules-HEX. */
function dirName(key: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(key);
  if (m) return m[1]!;
  if (!/^[a-z0-9][a-z0-9-]{0,127}$/.test(key)) throw new Error(`bad image store key: ${key}`);
  return key;
}

export function storeDir(): string {
  return join(cacheDir(), 'images');
}

/** The stored image, or undefined if there is none (or its config was damaged: store() then unpacks it again). */
export function lookup(id: string): StoredImage | undefined {
  const dir = join(storeDir(), dirName(id));
  if (!existsSync(join(dir, IMAGE_CONFIG_FILE))) return undefined;
  try {
    return { id, ...readKeelImage(dir, id) };
  } catch {
    return undefined;
  }
}

/**
 * Unpacks an image with fill(rootfs) into a scratch directory and renames it
 * into place only when complete: a build that dies half way leaves no
 * half-unpacked image to be found as cached next time.
 */
export async function store(id: string, config: ImageConfig, fill: (rootfs: string) => Promise<void> | void): Promise<StoredImage> {
  const found = lookup(id);
  if (found) return found;
  const dir = join(storeDir(), dirName(id));
  const tmp = scratchFor(dir);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'rootfs'), { recursive: true, mode: 0o755 });
  try {
    await fill(join(tmp, 'rootfs'));
    writeFileSync(join(tmp, IMAGE_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    scratchDone(tmp);
  }
  return { id, rootfs: join(dir, 'rootfs'), config };
}

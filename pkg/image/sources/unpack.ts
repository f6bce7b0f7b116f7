// An image given as its config JSON and its layer files, unpacked into the
// store. Docker save archives, OCI layouts and the Docker engine all end here.
import { createHash } from 'node:crypto';
import { BuildError } from '../kernel.js';
import { imageConfigFrom, type RawImageConfig } from './image-config.js';
import { applyLayer, type LayerBlob } from './layers.js';
import { lookup, store, type StoredImage } from './store.js';

export function imageIdOf(configBytes: Buffer): string {
  return `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
}

export function parseImageConfig(configBytes: Buffer, what: string): RawImageConfig {
  try {
    return JSON.parse(configBytes.toString('utf8')) as RawImageConfig;
  } catch (err) {
    throw new BuildError(`${what}: the image config is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * layers(): the layers bottom to top; only called when the image is not
 * stored yet. The result says the CPU architecture the config names, which
 * the build compares with the image's (images.ts).
 */
export async function unpackImage(configBytes: Buffer, layers: () => Promise<LayerBlob[]> | LayerBlob[], what: string): Promise<StoredImage> {
  const id = imageIdOf(configBytes);
  const raw = parseImageConfig(configBytes, what);
  if (raw.os && raw.os !== 'linux') throw new BuildError(`${what}: the image is for ${raw.os}, not linux`);
  const arch = raw.architecture ? { architecture: raw.architecture } : {};
  const found = lookup(id);
  if (found) return { ...found, ...arch };
  const files = await layers();
  const stored = await store(id, imageConfigFrom(raw.config), async (rootfs) => {
    for (const [i, layer] of files.entries()) await applyLayer(rootfs, layer, `${what}: layer ${i + 1} of ${files.length}`);
  });
  return { ...stored, ...arch };
}

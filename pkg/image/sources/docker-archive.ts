// `docker save` archives as image sources: manifest.json names each image's
// config and layers (old layout: ID/layer.tar; Docker 25+: blobs/sha256/HEX).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildError } from '../kernel.js';
import { extractArchive } from './layers.js';
import { unpackImage } from './unpack.js';
import type { StoredImage } from './store.js';

interface SavedImage {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Picks the image: the only one, or the one tagged `tag` (given as PATH#REPO:TAG). */
function pick(images: SavedImage[], tag: string | undefined, what: string): SavedImage {
  const tags = images.flatMap((i) => i.RepoTags ?? []);
  if (tag) {
    const found = images.find((i) => (i.RepoTags ?? []).includes(tag));
    if (!found) throw new BuildError(`${what}: no image tagged ${tag} in the archive; it has ${tags.join(', ') || 'only untagged images'}`);
    return found;
  }
  if (images.length !== 1) throw new BuildError(`${what}: the archive holds ${images.length} images; name one as PATH#REPO:TAG (${tags.join(', ')})`);
  return images[0]!;
}

export async function fromDockerArchive(archive: string, tag: string | undefined, what: string): Promise<StoredImage> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-archive-'));
  try {
    extractArchive(archive, dir, what);
    let images: SavedImage[];
    try {
      images = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SavedImage[];
    } catch (err) {
      throw new BuildError(`${what}: ${archive} is not a "docker save" archive (manifest.json: ${(err as Error).message})`);
    }
    const image = pick(images, tag, what);
    const config = readFileSync(join(dir, image.Config));
    return await unpackImage(config, () => image.Layers.map((l) => join(dir, l)), what);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `docker save` archives as image sources: manifest.json names each image's
// config and layers (old layout: ID/layer.tar; Docker 25+: blobs/sha256/HEX).
// The archive is read in place through its tar index; each layer streams
// from its region of the file. A compressed archive (`docker save | gzip`,
// which `docker load` takes too) is uncompressed to a temporary file first.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildError } from '../kernel.js';
import { isCompressed, uncompressedChunks } from './layer-stream.js';
import { TarFormatError } from './tar-format.js';
import { TarIndex } from './tar-index.js';
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

function indexOf(tar: string, archive: string, what: string): TarIndex {
  try {
    return new TarIndex(tar);
  } catch (err) {
    if (err instanceof TarFormatError) throw new BuildError(`${what}: ${archive} is not a "docker save" archive (${err.message})`);
    throw new BuildError(`${what}: reading ${archive}: ${(err as Error).message}`);
  }
}

export async function fromDockerArchive(archive: string, tag: string | undefined, what: string): Promise<StoredImage> {
  if (!isCompressed({ file: archive })) return fromTar(archive, archive, tag, what);
  const dir = mkdtempSync(join(tmpdir(), 'keel-archive-'));
  try {
    const tar = join(dir, 'archive.tar');
    try {
      await pipeline(Readable.from(uncompressedChunks({ file: archive })), createWriteStream(tar));
    } catch (err) {
      throw new BuildError(`${what}: uncompressing ${archive}: ${(err as Error).message}`);
    }
    return await fromTar(tar, archive, tag, what);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** archive: the name for messages; tar: the uncompressed file. */
async function fromTar(tar: string, archive: string, tag: string | undefined, what: string): Promise<StoredImage> {
  const index = indexOf(tar, archive, what);
  const manifest = index.read('manifest.json');
  let images: SavedImage[];
  try {
    if (!manifest) throw new Error('it has no manifest.json');
    images = JSON.parse(manifest.toString('utf8')) as SavedImage[];
  } catch (err) {
    throw new BuildError(`${what}: ${archive} is not a "docker save" archive (manifest.json: ${(err as Error).message})`);
  }
  const image = pick(images, tag, what);
  const config = index.read(image.Config);
  if (!config) throw new BuildError(`${what}: ${archive} names the config ${image.Config}, which it does not hold`);
  return unpackImage(config, () =>
    image.Layers.map((l) => {
      const blob = index.blob(l);
      if (!blob) throw new BuildError(`${what}: ${archive} names the layer ${l}, which it does not hold`);
      return blob;
    }), what);
}

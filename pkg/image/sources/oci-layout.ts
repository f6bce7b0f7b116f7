// OCI image layouts (a directory with an oci-layout file, index.json and
// blobs/ALG/HEX) as image sources. Multi-platform indexes are followed to
// their linux/amd64 manifest.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError } from '../kernel.js';
import { unpackImage } from './unpack.js';
import type { StoredImage } from './store.js';

interface Descriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

interface IndexJson {
  manifests?: Descriptor[];
}

interface ManifestJson {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

export function isOciLayout(dir: string): boolean {
  return existsSync(join(dir, 'oci-layout')) && existsSync(join(dir, 'index.json'));
}

function blobPath(dir: string, digest: string, what: string): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new BuildError(`${what}: bad digest ${JSON.stringify(digest)} in the layout`);
  const path = join(dir, 'blobs', m[1]!, m[2]!);
  if (!existsSync(path)) throw new BuildError(`${what}: blob ${digest} is missing from the layout`);
  return path;
}

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new BuildError(`${what}: ${path}: ${(err as Error).message}`);
  }
}

function pickManifest(list: Descriptor[], tag: string | undefined, what: string, arch: string): Descriptor {
  if (tag) {
    const found = list.find((d) => d.annotations?.[REF_NAME] === tag || d.annotations?.['io.containerd.image.name']?.endsWith(`:${tag}`));
    if (!found) throw new BuildError(`${what}: no manifest named ${tag} in the layout's index.json`);
    return found;
  }
  const forArch = list.filter((d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === arch));
  if (forArch.length === 1) return forArch[0]!;
  const names = list.map((d) => d.annotations?.[REF_NAME]).filter(Boolean);
  throw new BuildError(`${what}: the layout holds ${list.length} manifests; name one as PATH#NAME (${names.join(', ') || 'none are named'})`);
}

/** `arch`: the platform a multi-platform image is followed to (linux/ARCH). */
export async function fromOciLayout(dir: string, tag: string | undefined, what: string, arch = 'amd64'): Promise<StoredImage> {
  const index = readJson<IndexJson>(join(dir, 'index.json'), what);
  let desc = pickManifest(index.manifests ?? [], tag, what, arch);
  // An index inside the index: a multi-platform image. Follow it to linux/ARCH.
  for (let depth = 0; depth < 4; depth++) {
    const m = readJson<ManifestJson>(blobPath(dir, desc.digest, what), what);
    if (m.manifests) {
      desc = pickManifest(m.manifests, undefined, what, arch);
      continue;
    }
    if (!m.config) throw new BuildError(`${what}: manifest ${desc.digest} has no config`);
    const config = readFileSync(blobPath(dir, m.config.digest, what));
    return unpackImage(config, () => (m.layers ?? []).map((l) => ({ file: blobPath(dir, l.digest, what) })), what);
  }
  throw new BuildError(`${what}: image indexes nest too deeply`);
}

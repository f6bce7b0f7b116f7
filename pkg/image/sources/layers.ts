// Image layers (tar streams, possibly compressed) applied to a root
// filesystem directory, read and applied by keel itself: the tar reader
// (tar-stream.ts) hands each entry to the applier (layer-apply.ts), which
// decides every path in the root with lstat, so no layer can follow a lower
// layer's symlink or write outside the root. Runs as root, so owners (by
// number: the host's user names mean nothing for the image), modes and
// device nodes are kept as the layer says.
import { lstatSync, mkdirSync } from 'node:fs';
import { BuildError } from '../kernel.js';
import { LayerApplier, LayerError } from './layer-apply.js';
import { uncompressedChunks, type LayerBlob } from './layer-stream.js';
import { RootPathError } from './root-path.js';
import { TarFormatError } from './tar-format.js';
import { TarParser } from './tar-stream.js';

export type { LayerBlob } from './layer-stream.js';

async function applyTar(root: string, blob: LayerBlob, whiteouts: boolean, what: string): Promise<void> {
  mkdirSync(root, { recursive: true });
  const applier = new LayerApplier(root, whiteouts);
  const parser = new TarParser(applier);
  try {
    for await (const chunk of uncompressedChunks(blob)) parser.push(chunk);
    parser.end();
    applier.finish();
  } catch (err) {
    applier.abort();
    if (err instanceof LayerError || err instanceof TarFormatError || err instanceof RootPathError) throw new BuildError(`${what}: ${err.message}`);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EPERM' && e.syscall?.includes('chown')) throw new BuildError(`${what}: cannot give files the image's owners (${e.message}); keel build must run as root to unpack images`);
    throw new BuildError(`${what}: ${e.message}`);
  }
}

/** Applies one image layer (whiteouts and all) over what root holds. */
export function applyLayer(root: string, layer: LayerBlob, what: string): Promise<void> {
  return applyTar(root, layer, true, what);
}

/** Extracts a whole archive (not a layer: ".wh." names are plain files) into dir. */
export function extractArchive(archive: string, dir: string, what: string): Promise<void> {
  return applyTar(dir, { file: archive }, false, what);
}

/** Whether path names a regular file (lstat, so a symlink in a layer is not followed). */
export function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

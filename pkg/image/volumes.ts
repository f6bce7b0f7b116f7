// LinuxKit's volumes: named directories in the image at /volumes/NAME,
// filled from an image or empty, that containers bind by name
// ("data:/var/lib/data"). The build rewrites those binds to the path, with
// "ro" for a read-only volume, so the runtime sees ordinary binds.
import type { Bind, Manifest } from '../../model/index.js';
import type { CpioEntry } from './cpio.js';
import { imageFiles, resolveRef, type ImageContext } from './images.js';
import { ociLayoutEntries } from './oci-volume.js';

export const VOLUMES_DIR = '/volumes';

function rewrite(bind: Bind, readonlyOf: Map<string, boolean>): Bind {
  if (bind.source.startsWith('/')) return bind;
  const ro = readonlyOf.get(bind.source) === true;
  const options = ro ? [...bind.options.filter((o) => o !== 'rw'), 'ro'] : bind.options;
  return { source: `${VOLUMES_DIR}/${bind.source}`, destination: bind.destination, options: [...new Set(options)] };
}

export async function volumeEntries(manifest: Manifest, ctx: ImageContext): Promise<{ entries: CpioEntry[]; manifest: Manifest }> {
  const entries: CpioEntry[] = [];
  const readonlyOf = new Map<string, boolean>();
  for (const [i, v] of manifest.volumes.entries()) {
    readonlyOf.set(v.name, v.readonly);
    const at = `${VOLUMES_DIR}/${v.name}`;
    entries.push({ path: at, type: 'dir', mode: 0o755 });
    if (v.image) {
      const src = await resolveRef(v.image, ctx, `${ctx.manifestFile}: volumes[${i}] (${v.name})`);
      entries.push(...(v.format === 'oci' ? ociLayoutEntries(src, at, v.image) : imageFiles(src, at)));
    }
  }
  const fix = <T extends { binds?: Bind[] | undefined; 'binds.add'?: Bind[] | undefined }>(c: T): T => ({
    ...c,
    ...(c.binds ? { binds: c.binds.map((b) => rewrite(b, readonlyOf)) } : {}),
    ...(c['binds.add'] ? { 'binds.add': c['binds.add'].map((b) => rewrite(b, readonlyOf)) } : {}),
  });
  return {
    entries,
    manifest: { ...manifest, onboot: manifest.onboot.map(fix), services: manifest.services.map(fix), onshutdown: manifest.onshutdown.map(fix) },
  };
}

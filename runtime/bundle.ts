// Turning a manifest entry into an OCI bundle on disk: find its image (a
// local root filesystem, or an OCI bundle whose process gives the image
// config), give writable containers an overlay so the image stays pristine,
// and write config.json.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ContainerBase } from '../model/index.js';
import type { Host } from './host.js';
import { buildOciSpec, specJson, SpecError, type ExtraConfig, type ImageConfig } from './oci-spec.js';
import type { OciSpec, RuntimeConfig } from './oci-types.js';

export type Phase = 'onboot' | 'onshutdown' | 'services';

export interface ResolvedImage {
  rootfs: string;
  config: ImageConfig;
}

/**
 * An unpacked image as keel build stores it (on the build host and inside
 * images at /images/ID): rootfs/ beside this file, which holds the image config.
 */
export const KEEL_IMAGE_CONFIG = 'keel-image.json';

export function readKeelImage(dir: string, image: string): ResolvedImage {
  const path = join(dir, KEEL_IMAGE_CONFIG);
  try {
    return { rootfs: join(dir, 'rootfs'), config: JSON.parse(readFileSync(path, 'utf8')) as ImageConfig };
  } catch (err) {
    throw new SpecError(`image ${image}: ${path}: ${(err as Error).message}`);
  }
}

/** A local image: keel's unpacked image, a directory that is a root filesystem, or an OCI bundle (config.json + its root). */
export function resolveLocalImage(image: string, baseDir: string): ResolvedImage {
  const dir = isAbsolute(image) ? image : resolve(baseDir, image);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SpecError(`image ${image}: ${dir} is not a directory; in this mode an image is a local root filesystem or OCI bundle (image references need keel build)`);
  }
  if (existsSync(join(dir, KEEL_IMAGE_CONFIG)) && existsSync(join(dir, 'rootfs'))) return readKeelImage(dir, image);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) return { rootfs: dir, config: {} };
  let bundle: { root?: { path?: string }; process?: { args?: string[]; env?: string[]; cwd?: string } };
  try {
    bundle = JSON.parse(readFileSync(configPath, 'utf8')) as typeof bundle;
  } catch (err) {
    throw new SpecError(`image ${image}: ${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const root = bundle.root?.path ?? 'rootfs';
  const rootfs = isAbsolute(root) ? root : join(dir, root);
  if (!existsSync(rootfs)) throw new SpecError(`image ${image}: the bundle's root ${rootfs} does not exist`);
  const p = bundle.process ?? {};
  return { rootfs, config: { ...(p.args ? { entrypoint: p.args } : {}), ...(p.env ? { env: p.env } : {}), ...(p.cwd ? { workingDir: p.cwd } : {}) } };
}

export interface Bundle {
  id: string;
  dir: string;
  spec: OciSpec;
  runtime: RuntimeConfig;
  /** Unmounts the overlay and removes the bundle directory. Safe to call twice. */
  release(): void;
}

export interface BundleInputs {
  entry: ContainerBase;
  phase: Phase;
  /** Where relative image paths are found (the manifest's directory). */
  baseDir: string;
  stateDir: string;
  host: Host;
  idOf: (name: string) => number | undefined;
  extra?: ExtraConfig;
}

export function containerId(phase: Phase, name: string): string {
  return phase === 'services' ? name : `${phase}.${name}`;
}

export function prepareBundle({ entry, phase, baseDir, stateDir, host, idOf, extra }: BundleInputs): Bundle {
  const id = containerId(phase, entry.name);
  const image = resolveLocalImage(entry.image, baseDir);
  const dir = join(stateDir, 'containers', id);
  rmSync(dir, { recursive: true, force: true });
  // 0711 all the way down: a container in a user namespace runs as a mapped uid that must traverse to its root.
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  for (let d = dir; d !== stateDir && d.startsWith(stateDir); d = dirname(d)) chmodSync(d, 0o711);
  chmodSync(stateDir, statSync(stateDir).mode | 0o011);
  // Build the spec first with the image's own root: a bad entry fails before anything is mounted.
  const merged = join(dir, 'rootfs');
  const { spec, runtime } = buildOciSpec({ entry, image: image.config, rootfs: merged, idOf, ...(extra ? { extra } : {}) });
  // A read-only container (manifest or image label) uses the image's root as it is.
  if (spec.root.readonly) spec.root.path = image.rootfs;
  let mounted = false;
  if (!spec.root.readonly) {
    // Writable containers write to an overlay upper layer in keel's state, never into the image.
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d), { recursive: true });
    // In a user namespace the container's root is a mapped host uid: it must own the writable layer.
    const root = spec.linux.uidMappings?.find((m) => m.containerID === 0)?.hostID;
    const rootGroup = spec.linux.gidMappings?.find((m) => m.containerID === 0)?.hostID;
    if (root !== undefined) for (const d of ['upper', 'work']) chownSync(join(dir, d), root, rootGroup ?? root);
    host.mount('overlay', merged, 'overlay', 0, `lowerdir=${image.rootfs},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`);
    mounted = true;
  }
  writeFileSync(join(dir, 'config.json'), specJson(spec));
  let released = false;
  return {
    id,
    dir,
    spec,
    runtime,
    release() {
      if (released) return;
      released = true;
      if (mounted) {
        try {
          host.umount(merged, true);
        } catch {
          /* already gone */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

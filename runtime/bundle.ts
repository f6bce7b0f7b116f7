// Turning a manifest entry into an OCI bundle on disk: find its image (a
// local root filesystem, or an OCI bundle whose process gives the image
// config), give writable containers an overlay so the image stays pristine,
// and write config.json.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ContainerBase } from '../model/index.js';
import { statePaths } from '../model/layout.js';
import type { ContainerPlan } from './engine.js';
import type { Host } from './host.js';
import { removeTree } from './remove-tree.js';
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

/** A container with its spec built once: each run writes a bundle from it. */
export interface RuncPlan extends ContainerPlan {
  /** The bundle directory: STATE_DIR/containers/ID. */
  dir: string;
  spec: OciSpec;
  runtime: RuntimeConfig;
  /** The image's root filesystem: the overlay's lower layer, or the root itself when read-only. */
  imageRootfs: string;
  /** A writable run's overlay layer (upper/ and work/), and where its space comes from; none for a read-only root. */
  layer: WritableLayer | undefined;
}

export interface WritableLayer {
  /** STATE_DIR/layers/ID. */
  dir: string;
  /** writableSize: a tmpfs of this size of the run's own, mounted at dir. */
  size?: number;
  /** Without a size, on a tmpfs state directory: STATE_DIR/layers, one tmpfs that every such layer shares. */
  sharedTmpfs?: string;
}

/** Makes `dir` below `stateDir`, 0700 and root's, and the directories between them 0711: crossed, never listed. */
function privateDir(dir: string, stateDir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (let d = dirname(dir); d !== stateDir && d.startsWith(stateDir); d = dirname(d)) chmodSync(d, 0o711);
}

/** A run's layer directory with upper/ and work/, on its own tmpfs when it has a size (pushed onto `mounted`); owned by `owner`, a user namespace's mapped root. */
function makeLayer(layer: WritableLayer, stateDir: string, owner: { uid: number; gid: number } | undefined, host: Host, mounted: string[]): void {
  if (layer.sharedTmpfs) shareLayersTmpfs(layer.sharedTmpfs, stateDir, host);
  removeTree(layer.dir);
  privateDir(layer.dir, stateDir);
  if (layer.size !== undefined) {
    host.mount('tmpfs', layer.dir, 'tmpfs', 0, `mode=0700,size=${layer.size}${owner ? `,uid=${owner.uid},gid=${owner.gid}` : ''}`);
    mounted.push(layer.dir);
  }
  for (const d of ['upper', 'work']) mkdirSync(join(layer.dir, d));
  // In a user namespace the container's root is a mapped host uid: it must own the writable layer.
  if (owner) for (const d of ['', 'upper', 'work']) chownSync(join(layer.dir, d), owner.uid, owner.gid);
}

/**
 * Mounts the layers' shared tmpfs at `at` unless it is there already (a mount point: another device than the
 * state's). What an earlier keel left in the directory under it is removed first: hidden, it would hold memory.
 */
function shareLayersTmpfs(at: string, stateDir: string, host: Host): void {
  if (existsSync(at) && statSync(at).dev !== statSync(stateDir).dev) return;
  removeTree(at);
  mkdirSync(at, { mode: 0o711 });
  host.mount('tmpfs', at, 'tmpfs', 0, 'mode=0711');
}

/** statfs(2)'s f_type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994;

/**
 * Where a writable run's layer takes its space. On a tmpfs state directory (a
 * VM's /run/keel) a layer in it would share one size limit with keel's own
 * state: a container that filled its root would leave no room for the next
 * bundle, runc's log, keel.sock or the log files. There the layers share a
 * tmpfs of their own instead (the kernel's default size, half the memory, as
 * /run's: together they can hold what they could before, and no more); a
 * layer with writableSize gets its own tmpfs anywhere. On a disk, layers stay
 * directories in the state, as Docker's writable layers are on its disk.
 */
function writableLayer(entry: ContainerBase, id: string, stateDir: string): WritableLayer {
  const layers = statePaths(stateDir).layers;
  const dir = join(layers, id);
  if (entry.writableSize !== undefined) return { dir, size: entry.writableSize };
  try {
    return statfsSync(stateDir).type === TMPFS_MAGIC ? { dir, sharedTmpfs: layers } : { dir };
  } catch {
    return { dir }; // not made yet: the bundle's write says why, if it fails
  }
}

export interface PlanInputs {
  id: string;
  entry: ContainerBase;
  /** Where relative image paths are found (the manifest's directory). */
  baseDir: string;
  stateDir: string;
  idOf: (name: string) => number | undefined;
  extra?: ExtraConfig;
  cgroupParent?: string;
}

export function containerId(phase: Phase, name: string): string {
  return phase === 'services' ? name : `${phase}.${name}`;
}

/** The ids of a phase's entries: PHASE.NAME, and PHASE.NAME.N for a name that comes more than once (LinuxKit allows it). */
export function phaseIds(phase: Exclude<Phase, 'services'>, names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const nth = (seen.get(n) ?? 0) + 1;
    seen.set(n, nth);
    return names.indexOf(n) === names.lastIndexOf(n) ? containerId(phase, n) : `${containerId(phase, n)}.${nth}`;
  });
}

/** Resolves the image and builds the spec; nothing is written or mounted, so a bad entry fails with nothing to undo. */
export function planContainer({ id, entry, baseDir, stateDir, idOf, extra, cgroupParent }: PlanInputs): RuncPlan {
  if (entry.image === undefined) throw new SpecError(`${entry.name}: a container needs an image`);
  const image = resolveLocalImage(entry.image, baseDir);
  const dir = join(statePaths(stateDir).containers, id);
  const { spec, runtime } = buildOciSpec({ entry, image: image.config, rootfs: join(dir, 'rootfs'), idOf, ...(extra ? { extra } : {}), ...(cgroupParent ? { cgroupParent } : {}) });
  // A read-only container (manifest or image label) uses the image's root as it is.
  if (spec.root.readonly) spec.root.path = image.rootfs;
  return { id, name: entry.name, dir, spec, runtime, imageRootfs: image.rootfs, layer: spec.root.readonly ? undefined : writableLayer(entry, id, stateDir) };
}

export interface Bundle {
  dir: string;
  /** Unmounts the overlay and removes the bundle directory. Safe to call twice. */
  release(): void;
}

/**
 * Writes a run's bundle: the directory, the overlay that keeps the image
 * pristine, config.json. All or nothing: when a step fails, what the earlier
 * ones did is undone, so the next start finds nothing in its way.
 */
export function writeBundle(plan: RuncPlan, stateDir: string, host: Host): Bundle {
  const { dir, spec, layer } = plan;
  const mounted: string[] = [];
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    // The overlay first, then the layer under it (the other way round is EBUSY). What the run wrote is deleted
    // before its own tmpfs is detached: a container that binds /run copied these mounts into its namespace when it
    // started, and a detached tmpfs lives on in such a copy, pages and all, where deleted files do not.
    unmount(join(dir, 'rootfs'));
    if (layer) {
      removeTree(join(layer.dir, 'upper'));
      removeTree(join(layer.dir, 'work'));
      unmount(layer.dir);
      removeTree(layer.dir);
    }
    removeTree(dir);
  };
  const unmount = (target: string) => {
    if (!mounted.includes(target)) return;
    try {
      host.umount(target, true);
    } catch {
      /* already gone */
    }
  };
  try {
    removeTree(dir);
    // The bundle is private (its config holds the service's environment): 0700, root's; so is the layer (what the
    // container writes). The directories above them may be crossed but not listed (0711): a container in a user
    // namespace runs as a mapped uid that must get to its root, and owns its bundle and layer directories for that.
    privateDir(dir, stateDir);
    chmodSync(stateDir, 0o711);
    const root = spec.linux.uidMappings?.find((m) => m.containerID === 0)?.hostID;
    const rootGroup = spec.linux.gidMappings?.find((m) => m.containerID === 0)?.hostID;
    if (root !== undefined) chownSync(dir, root, rootGroup ?? root);
    if (layer) {
      // Writable containers write to an overlay upper layer in keel's state, never into the image.
      makeLayer(layer, stateDir, root === undefined ? undefined : { uid: root, gid: rootGroup ?? root }, host, mounted);
      mkdirSync(join(dir, 'rootfs'));
      host.mount('overlay', join(dir, 'rootfs'), 'overlay', 0, `lowerdir=${plan.imageRootfs},upperdir=${join(layer.dir, 'upper')},workdir=${join(layer.dir, 'work')}`);
      mounted.push(join(dir, 'rootfs'));
    }
    writeFileSync(join(dir, 'config.json'), specJson(spec), { mode: 0o600 });
  } catch (err) {
    release();
    throw err;
  }
  return { dir, release };
}

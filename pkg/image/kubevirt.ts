// The kubevirt output: the image's qcow2 disk as a KubeVirt containerDisk,
// a container image with no base holding the disk under /disk/, owned by
// KubeVirt's qemu user (107:107) and readable only by it, loaded into the
// Docker engine under the tag the user gives. From there `docker push` puts
// it where a cluster pulls from. The archive is written here with fixed
// dates, so the same disk gives the same image id.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Arch } from './arch.js';
import { buildTar } from './tar.js';
import { BuildError } from './kernel.js';
import { connectEngine } from './sources/docker-engine.js';
import { REFERENCE } from './sources/resolve.js';

/** The uid and gid KubeVirt's virt-launcher runs qemu as, which must be able to read the disk. */
export const KUBEVIRT_QEMU_ID = 107;
/** Where KubeVirt looks for the disk inside a containerDisk image. */
export const CONTAINER_DISK_DIR = '/disk';

export interface ContainerDiskOptions {
  qcow2: Buffer;
  /** The disk's file name under /disk/. */
  fileName: string;
  tag: string;
  arch: Arch;
  epoch: number;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function checkTag(tag: string): void {
  if (!REFERENCE.test(tag) || tag.includes('@')) throw new BuildError(`--tag ${JSON.stringify(tag)} is not an image name such as registry.example/keel/demo:1 (lowercase name, optional :tag)`);
}

/** The containerDisk as a `docker save` archive: one layer, its config, and a manifest naming the tag. */
export function containerDiskArchive(opts: ContainerDiskOptions): { archive: Buffer; id: string } {
  const own = { uid: KUBEVIRT_QEMU_ID, gid: KUBEVIRT_QEMU_ID };
  const layer = buildTar([
    { path: CONTAINER_DISK_DIR, type: 'dir', mode: 0o555, ...own },
    { path: `${CONTAINER_DISK_DIR}/${opts.fileName}`, type: 'file', mode: 0o440, data: opts.qcow2, ...own },
  ]);
  const diffId = sha256(layer);
  const created = new Date(opts.epoch * 1000).toISOString();
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch,
      os: 'linux',
      created,
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
      history: [{ created, created_by: 'keel build --format kubevirt' }],
    }),
  );
  const id = sha256(config);
  const manifest = Buffer.from(JSON.stringify([{ Config: `${id}.json`, RepoTags: [opts.tag], Layers: [`${diffId}/layer.tar`] }]));
  const archive = buildTar([
    { path: `${id}.json`, type: 'file', mode: 0o644, data: config },
    { path: `${diffId}/layer.tar`, type: 'file', mode: 0o644, data: layer },
    { path: 'manifest.json', type: 'file', mode: 0o644, data: manifest },
  ]);
  return { archive, id: `sha256:${id}` };
}

interface LoadEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Loads the containerDisk into the Docker engine as opts.tag; resolves with the image id. */
export async function loadContainerDisk(opts: ContainerDiskOptions): Promise<string> {
  checkTag(opts.tag);
  const { archive, id } = containerDiskArchive(opts);
  await connectEngine(); // the engine answers, or the error says how to start one
  // The engine answers a load only once it has unpacked the layer, which on a busy machine takes longer
  // than the shared connection's 10 s idle timeout: this request gets a connection without one.
  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  const failed = (why: string) => new BuildError(`the Docker engine did not load the kubevirt image ${opts.tag}: ${why}`);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.loadImage(Readable.from([archive]), { quiet: true });
  } catch (err) {
    throw failed((err as Error).message);
  }
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, events: LoadEvent[]) => {
      const why = err?.message ?? events.find((e) => e.error)?.error;
      if (why) reject(failed(why));
      else resolve();
    });
  });
  return id;
}

// A LinuxKit volume of `format: oci`: the volume holds its image as an OCI
// image layout (oci-layout, index.json, blobs/sha256/…), for a program in
// the image (a containerd, say) to import. keel writes the image flattened:
// one layer holding its unpacked files, with its config, for the build's
// architecture.
import { createHash } from 'node:crypto';
import type { CpioEntry } from './cpio.js';
import { imageFiles } from './images.js';
import type { ResolvedSource } from './sources/resolve.js';
import { buildTar } from './tar.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function blob(at: string, data: Buffer): { entry: CpioEntry; digest: string; size: number } {
  const digest = sha256(data);
  return { entry: { path: `${at}/blobs/sha256/${digest.slice(7)}`, type: 'file', mode: 0o644, data }, digest, size: data.length };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** The layout's entries below `at`; `ref` names the image in index.json (org.opencontainers.image.ref.name). */
export function ociLayoutEntries(src: ResolvedSource, at: string, ref: string, arch = 'amd64'): CpioEntry[] {
  const layer = blob(at, buildTar(imageFiles(src, '')));
  const c = src.config;
  const config = blob(
    at,
    json({
      architecture: arch,
      os: 'linux',
      config: { ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}), ...(c.cmd ? { Cmd: c.cmd } : {}), ...(c.env ? { Env: c.env } : {}), ...(c.workingDir ? { WorkingDir: c.workingDir } : {}), ...(c.labels ? { Labels: c.labels } : {}) },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = blob(
    at,
    json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    }),
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size, platform: { architecture: arch, os: 'linux' }, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  };
  return [
    { path: `${at}/blobs`, type: 'dir', mode: 0o755 },
    { path: `${at}/blobs/sha256`, type: 'dir', mode: 0o755 },
    layer.entry,
    config.entry,
    manifest.entry,
    { path: `${at}/oci-layout`, type: 'file', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
    { path: `${at}/index.json`, type: 'file', mode: 0o644, data: json(index) },
  ];
}

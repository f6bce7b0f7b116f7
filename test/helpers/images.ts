// Container images made from scratch for the image-source tests: layer tars
// written with GNU tar (sorted, fixed times, so the image id is the same on
// every run), packed as a `docker save` archive or an OCI layout. No
// registry or network is involved; the engine gets them with `docker load`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface Layer {
  /** path → contents; "busybox" as a value copies /bin/busybox. */
  files?: Record<string, string | Buffer>;
  /** Paths deleted from the layers below (".wh." files). */
  whiteouts?: string[];
  /** Directories emptied of what the layers below put there (".wh..wh..opq"). */
  opaque?: string[];
}

export interface ImageSpec {
  layers: Layer[];
  config?: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; Labels?: Record<string, string> };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function layerTar(work: string, layer: Layer, n: number): Buffer {
  const stage = join(work, `stage${n}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const [path, contents] of Object.entries(layer.files ?? {})) {
    const at = join(stage, path);
    mkdirSync(dirname(at), { recursive: true });
    if (contents === 'busybox') copyFileSync('/bin/busybox', at);
    else writeFileSync(at, contents);
    run('chmod', [contents === 'busybox' ? '755' : '644', at]);
  }
  for (const path of layer.whiteouts ?? []) {
    mkdirSync(join(stage, dirname(path)), { recursive: true });
    writeFileSync(join(stage, dirname(path), `.wh.${path.split('/').pop()}`), '');
  }
  for (const dir of layer.opaque ?? []) {
    mkdirSync(join(stage, dir), { recursive: true });
    writeFileSync(join(stage, dir, '.wh..wh..opq'), '');
  }
  const out = join(work, `layer${n}.tar`);
  run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', stage, '-cf', out, '.']);
  rmSync(stage, { recursive: true, force: true });
  return readFileSync(out);
}

function configJson(spec: ImageSpec, diffIds: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: spec.config ?? {},
      rootfs: { type: 'layers', diff_ids: diffIds.map((h) => `sha256:${h}`) },
    }),
  );
}

/** A `docker save` archive at `out` holding the image tagged `tag`; returns its image id. */
export function dockerArchive(work: string, out: string, tag: string, spec: ImageSpec): string {
  const root = join(work, 'archive');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const layers = spec.layers.map((l, i) => layerTar(work, l, i));
  const names = layers.map((tar) => {
    const h = sha256(tar);
    mkdirSync(join(root, h), { recursive: true });
    writeFileSync(join(root, h, 'layer.tar'), tar);
    return `${h}/layer.tar`;
  });
  const config = configJson(spec, layers.map(sha256));
  const id = sha256(config);
  writeFileSync(join(root, `${id}.json`), config);
  writeFileSync(join(root, 'manifest.json'), JSON.stringify([{ Config: `${id}.json`, RepoTags: [tag], Layers: names }]));
  run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-C', root, '-cf', out, '.']);
  rmSync(root, { recursive: true, force: true });
  return `sha256:${id}`;
}

/** An OCI image layout in `out` with one manifest named `name`; the last layer is gzip'd. Returns the image id. */
export function ociLayout(work: string, out: string, name: string, spec: ImageSpec): string {
  rmSync(out, { recursive: true, force: true });
  const blobs = join(out, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer) => {
    const h = sha256(data);
    writeFileSync(join(blobs, h), data);
    return { digest: `sha256:${h}`, size: data.length };
  };
  const tars = spec.layers.map((l, i) => layerTar(work, l, i));
  const layers = tars.map((tar, i) =>
    i === tars.length - 1
      ? { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blob(gzipSync(tar)) }
      : { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob(tar) },
  );
  const config = configJson(spec, tars.map(sha256));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob(config) }, layers }));
  const m = blob(manifest);
  writeFileSync(join(out, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(out, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': name } }] }),
  );
  return `sha256:${sha256(config)}`;
}

export function dockerAvailable(): boolean {
  return spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

/** Loads a docker save archive into the engine. */
export function dockerLoad(archive: string): void {
  run('docker', ['load', '-i', archive]);
}

/** The files of an initrd (gzip'd newc cpio), listed by cpio. */
export function initrdList(initrd: string): string[] {
  const r = spawnSync('sh', ['-c', `zcat '${initrd}' | cpio -t --quiet`], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return r.stdout.split('\n').filter(Boolean);
}

/** One file's contents from an initrd. */
export function initrdFile(initrd: string, path: string): string {
  return spawnSync('sh', ['-c', `zcat '${initrd}' | cpio -i --to-stdout --quiet '${path}'`], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 }).stdout;
}

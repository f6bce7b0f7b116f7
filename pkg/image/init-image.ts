// The init image: keel as the init of any container image. One layer holding
// /opt/keel (keel-init.js, keel.js, the addon, node and the shared libraries
// node needs, with node's loader and library path pointed into /opt/keel so it
// runs whatever the image's own libc is), written as a `docker save` archive
// by this code and loaded into the engine under a tag, for
//   COPY --from=keel/init:VERSION /opt/keel /opt/keel
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { VERSION } from '../../model/version.js';
import { earlySignalPrelude } from '../../model/early-signals.js';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';
import { sharedLibraries } from './node-runtime.js';
import { imageNode } from './node-binary.js';
import { hostArch } from './arch.js';
import { buildTar, tarBlocks } from './tar.js';

/** Where keel lives in a container image. */
export const INIT_DIR = '/opt/keel';
export const DEFAULT_INIT_TAG = `keel/init:${VERSION}`;

const KEEL_FILES = ['keel-init.js', 'keel.js', 'keel_sys.node'];

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new BuildError(`${cmd} is not installed (make deps installs it)`);
  if (r.status !== 0) throw new BuildError(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

/**
 * node and its libraries under /opt/keel: a copy of node whose interpreter
 * (the dynamic loader) and library path are /opt/keel/lib (DT_RPATH, which
 * also serves the libraries' own dependencies), so it never loads the image's.
 */
function nodeEntries(): CpioEntry[] {
  // The same node a VM image gets: the pinned official build, stripped (this machine's only without the package).
  const node = imageNode(hostArch()).path;
  const libs = sharedLibraries(node);
  const loader = libs.find((l) => /\/ld-linux[^/]*\.so/.test(l));
  if (!loader) throw new BuildError(`${node}: no dynamic loader among its libraries (ldd ${node}); a static node needs no patching, but keel expects Debian's`);
  const work = mkdtempSync(join(tmpdir(), 'keel-init-image-'));
  try {
    const copy = join(work, 'node');
    spawnSync('cp', [realpathSync(node), copy]);
    run('patchelf', ['--set-interpreter', `${INIT_DIR}/lib/${basename(loader)}`, '--force-rpath', '--set-rpath', `${INIT_DIR}/lib`, copy]);
    return [
      { path: `${INIT_DIR}/node`, type: 'file', mode: 0o755, data: readFileSync(copy) },
      ...libs.map((lib): CpioEntry => ({ path: `${INIT_DIR}/lib/${basename(lib)}`, type: 'file', mode: 0o755, data: readFileSync(realpathSync(lib)) })),
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Every file of /opt/keel. */
export function initImageEntries(distDir: string): CpioEntry[] {
  const missing = KEEL_FILES.filter((f) => !existsSync(join(distDir, f)));
  if (missing.length) throw new BuildError(`keel's own files are missing from ${distDir}: ${missing.join(', ')}; run "make build"`);
  // One V8 worker thread, not four: a container's tasks count against docker run --pids-limit, and keel's heap is small.
  const script = (file: string, prelude = '') => Buffer.from(`#!${INIT_DIR}/node --v8-pool-size=1\n${prelude}${prelude ? '\n' : ''}import('${INIT_DIR}/${file}');\n`);
  return [
    { path: '/opt', type: 'dir', mode: 0o755 },
    { path: INIT_DIR, type: 'dir', mode: 0o755 },
    { path: `${INIT_DIR}/lib`, type: 'dir', mode: 0o755 },
    ...KEEL_FILES.map((f): CpioEntry => ({ path: `${INIT_DIR}/${f}`, type: 'file', mode: 0o755, data: readFileSync(join(distDir, f)) })),
    { path: `${INIT_DIR}/package.json`, type: 'file', mode: 0o644, data: Buffer.from('{"type":"module"}\n') },
    { path: `${INIT_DIR}/keel-init`, type: 'file', mode: 0o755, data: script('keel-init.js', earlySignalPrelude()) },
    { path: `${INIT_DIR}/keel`, type: 'file', mode: 0o755, data: script('keel.js') },
    ...nodeEntries(),
  ];
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A `docker save` archive (manifest.json, the config, one layer) of the entries, tagged `tag`. */
export function writeDockerArchive(entries: readonly CpioEntry[], tag: string, out: string): { id: string; layerBytes: number } {
  const layer = buildTar(entries);
  const diffId = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      // An image FROM this one gets keel as its init; its CMD becomes keel's main service.
      config: { Entrypoint: [`${INIT_DIR}/keel-init`, '--'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    }),
  );
  const id = sha256(config);
  const files: CpioEntry[] = [
    { path: diffId, type: 'dir', mode: 0o755 },
    { path: `${diffId}/layer.tar`, type: 'file', mode: 0o644, data: layer },
    { path: `${id}.json`, type: 'file', mode: 0o644, data: config },
    { path: 'manifest.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify([{ Config: `${id}.json`, RepoTags: [tag], Layers: [`${diffId}/layer.tar`] }])) },
  ];
  const target = resolve(out);
  const tmp = `${target}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const b of tarBlocks(files)) for (let at = 0; at < b.length; ) at += writeSync(fd, b, at);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, target);
  return { id: `sha256:${id}`, layerBytes: layer.length };
}

/** Writes the init image's archive and loads it into the Docker engine. */
export function loadInitImage(distDir: string, tag: string, archive?: string): { id: string; layerBytes: number; archive: string } {
  // Without --output the archive is a scratch file, gone whether docker load took it or not (it is 90 MB).
  const scratch = archive ? undefined : mkdtempSync(join(tmpdir(), 'keel-init-image-'));
  const out = archive ?? join(scratch!, 'keel-init.tar');
  try {
    const written = writeDockerArchive(initImageEntries(distDir), tag, out);
    run('docker', ['load', '-i', out]);
    return { ...written, archive: out };
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

// Container images made from scratch for the image-source tests: layer tars
// written with GNU tar (sorted, fixed times, so the image id is the same on
// every run) or entry by entry as a test gives them (tarOf), packed as a
// `docker save` archive or an OCI layout. No registry or network is
// involved; the engine gets them with `docker load`. treeOf and diffTrees
// compare two unpacked roots path by path.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { initrdEntries } from './initrd.js';

/** One tar entry of a hand-built layer, written exactly as given: order, type, attributes. */
export interface TarItem {
  path: string;
  /** Default: file. */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  data?: string | Buffer;
  /** A symlink's or hard link's target. */
  target?: string;
  /** Defaults: 0o644 (0o755 for directories, 0o777 for symlinks), owner 0:0, mtime 1000000000. */
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  major?: number;
  minor?: number;
  /** How a name, link target or id too long for the ustar header is written: pax records (default) or GNU long-name entries and base-256 numbers. */
  long?: 'pax' | 'gnu';
}

export interface Layer {
  /** path → contents; "busybox" as a value copies /bin/busybox. */
  files?: Record<string, string | Buffer>;
  /** Paths deleted from the layers below (".wh." files). */
  whiteouts?: string[];
  /** Directories emptied of what the layers below put there (".wh..wh..opq"). */
  opaque?: string[];
  /** The layer's entries, written by tarOf instead of GNU tar (files, whiteouts and opaque are then ignored). */
  entries?: TarItem[];
  /** How an OCI layout stores the layer; docker save archives keep layers uncompressed. */
  compress?: 'gzip' | 'zstd';
  /** The layer's bytes as given, for damaged layers (everything else is then ignored). */
  raw?: Buffer;
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

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;
const MAX_OCTAL_ID = 0o7777777;

function octal(b: Buffer, at: number, width: number, value: number): void {
  b.write(value.toString(8).padStart(width - 1, '0'), at, width - 1, 'ascii');
}

/** GNU base-256: the field's first bit set, the number big-endian in the rest. */
function base256(b: Buffer, at: number, width: number, value: number): void {
  for (let i = width - 1, v = value; i > 0; i--, v = Math.floor(v / 256)) b[at + i] = v % 256;
  b[at] = 0x80;
}

function header(name: string, flag: string, size: number, it: TarItem, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  octal(b, 100, 8, it.mode ?? (it.type === 'dir' ? 0o755 : it.type === 'symlink' ? 0o777 : 0o644));
  for (const [at, id] of [[108, it.uid ?? 0], [116, it.gid ?? 0]] as const) (id > MAX_OCTAL_ID ? base256 : octal)(b, at, 8, id);
  octal(b, 124, 12, size);
  octal(b, 136, 12, it.mtime ?? 1_000_000_000);
  b.write(flag, 156, 1, 'ascii');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  octal(b, 329, 8, it.major ?? 0);
  octal(b, 337, 8, it.minor ?? 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** "LEN key=value\n", LEN counting the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

/** A tar of exactly these entries, in this order (no GNU tar involved, so every shape can be written). */
export function tarOf(items: TarItem[]): Buffer {
  const out: Buffer[] = [];
  for (const it of items) {
    const type = it.type ?? 'file';
    const data = type === 'file' ? Buffer.from(it.data ?? '') : Buffer.alloc(0);
    const name = type === 'dir' && !it.path.endsWith('/') ? `${it.path}/` : it.path;
    const link = it.target ?? '';
    const tooLong = (s: string) => Buffer.byteLength(s) > 100;
    const bigId = (it.uid ?? 0) > MAX_OCTAL_ID || (it.gid ?? 0) > MAX_OCTAL_ID;
    if (it.long === 'gnu') {
      if (tooLong(name)) out.push(header('././@LongLink', 'L', Buffer.byteLength(name) + 1, {} as TarItem), pad(Buffer.from(`${name}\0`)));
      if (tooLong(link)) out.push(header('././@LongLink', 'K', Buffer.byteLength(link) + 1, {} as TarItem), pad(Buffer.from(`${link}\0`)));
    } else if (tooLong(name) || tooLong(link) || bigId) {
      const records = Buffer.from(
        (tooLong(name) ? paxRecord('path', name) : '') + (tooLong(link) ? paxRecord('linkpath', link) : '') + (bigId ? paxRecord('uid', String(it.uid ?? 0)) + paxRecord('gid', String(it.gid ?? 0)) : ''),
      );
      out.push(header('PaxHeaders/entry', 'x', records.length, {} as TarItem), pad(records));
    }
    const ids = bigId && it.long !== 'gnu' ? { uid: 0, gid: 0 } : {};
    out.push(header(name.slice(0, 100), TYPEFLAG[type], data.length, { ...it, ...ids }, link.slice(0, 100)), pad(data));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

function layerTar(work: string, layer: Layer, n: number): Buffer {
  if (layer.raw) return layer.raw;
  if (layer.entries) return tarOf(layer.entries);
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

function compressed(tar: Buffer, how: 'gzip' | 'zstd'): Buffer {
  if (how === 'gzip') return gzipSync(tar);
  const r = spawnSync('zstd', ['-c', '-q'], { input: tar, maxBuffer: 512 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`zstd: ${r.stderr}`);
  return r.stdout;
}

/** An OCI image layout in `out` with one manifest named `name`; the last layer is gzip'd unless layers say how. Returns the image id. */
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
  const given = spec.layers.some((l) => l.compress);
  const layers = tars.map((tar, i) => {
    const how = given ? spec.layers[i]!.compress : i === tars.length - 1 ? 'gzip' : undefined;
    return how ? { mediaType: `application/vnd.oci.image.layer.v1.tar+${how}`, ...blob(compressed(tar, how)) } : { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob(tar) };
  });
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

/** The paths of an initrd, in order. */
export function initrdList(initrd: string): string[] {
  return initrdEntries(initrd).map((e) => e.path);
}

/** One file's contents from an initrd ('' when it has none). */
export function initrdFile(initrd: string, path: string): string {
  return initrdEntries(initrd).filter((e) => e.path === path).pop()?.data.toString('utf8') ?? '';
}

/** What a path is, as the comparison of two roots sees it. */
export interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: string;
  owner: string;
  /** A symlink's target, a file's sha256, a device's numbers. */
  content?: string;
  /** Whole seconds, or "unpack time" for a directory made while unpacking (a parent a layer does not list): its time is the clock's. */
  mtime?: number | 'unpack time';
  /** The other paths of a hard-linked file. */
  links?: string;
}

function nodeOf(path: string, unpackedAfter: number): TreeNode {
  const st = lstatSync(path);
  const base = { mode: (st.mode & 0o7777).toString(8), owner: `${st.uid}:${st.gid}`, mtime: Math.floor(st.mtimeMs / 1000) };
  const dev = `${Math.floor(st.rdev / 256) & 0xfff},${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;
  if (st.isDirectory()) return { type: 'dir', ...base, ...(st.mtimeMs >= unpackedAfter ? { mtime: 'unpack time' } : {}) };
  if (st.isSymbolicLink()) return { type: 'symlink', ...base, content: readlinkSync(path) };
  if (st.isFile()) return { type: 'file', ...base, content: createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16) };
  if (st.isCharacterDevice()) return { type: 'char', ...base, content: dev };
  if (st.isBlockDevice()) return { type: 'block', ...base, content: dev };
  return { type: st.isFIFO() ? 'fifo' : 'socket', ...base };
}

/**
 * Every path under root (relative, no leading slash) but those skip() names, with what it is; hard-linked files
 * list each other. Directories changed at or after unpackedAfter (ms) have "unpack time" as their mtime.
 */
export function treeOf(root: string, unpackedAfter: number, skip: (rel: string) => boolean = () => false): Map<string, TreeNode> {
  const tree = new Map<string, TreeNode>();
  const inodes = new Map<number, string[]>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const node = nodeOf(join(root, r), unpackedAfter);
      tree.set(r, node);
      const st = lstatSync(join(root, r));
      if (node.type !== 'dir' && st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), r]);
      if (node.type === 'dir') walk(r);
    }
  };
  walk('');
  for (const paths of inodes.values()) for (const p of paths) if (paths.length > 1) tree.get(p)!.links = paths.filter((o) => o !== p).join(' ');
  return tree;
}

/** The differences between two trees, one line per path: empty when they are the same. */
export function diffTrees(got: Map<string, TreeNode>, want: Map<string, TreeNode>): string[] {
  const out: string[] = [];
  for (const path of [...new Set([...got.keys(), ...want.keys()])].sort()) {
    const a = got.get(path);
    const b = want.get(path);
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path}: got ${JSON.stringify(a) ?? 'nothing'}, want ${JSON.stringify(b) ?? 'nothing'}`);
  }
  return out;
}

/** The image's files as the engine shows them: `docker export` of a created (never started) container, extracted into dir. */
export function dockerExport(ref: string, dir: string): void {
  const id = run('docker', ['create', ref, 'never-run']).trim(); // a command, for images without one
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('sh', ['-c', `docker export '${id}' | tar -x -C '${dir}' --numeric-owner --same-owner --same-permissions`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`docker export ${ref}: ${r.stderr}`);
  } finally {
    run('docker', ['rm', id]);
  }
}

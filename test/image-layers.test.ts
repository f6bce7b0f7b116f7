// Layer shapes unpacked by keel exactly as the Docker engine shows them:
// each image is built here entry by entry (tarOf), loaded with `docker
// load`, unpacked by keel through the engine source and its store, and
// compared path by path (type, mode, owner, link target, content, mtime,
// hard links) with `docker export` of a container of the same image. Shapes
// the engine refuses to load (a hard link to a lower layer's file, a
// whiteout below a whited-out directory) and hostile layers go through
// `docker save` archives and are checked against what they must give.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../pkg/image/sources/resolve.js';
import { silentProgress } from '../pkg/image/sources/progress.js';
import { diffTrees, dockerArchive, dockerAvailable, dockerExport, dockerLoad, ociLayout, tarOf, treeOf, type TarItem } from './helpers/images.js';

// Image names unique to this run: two checkouts testing at once must not retag each other's images.
const T = `keel-test-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'keel-layers-'));
// Layers here carry times long past; a directory newer than this was made while unpacking.
const started = Date.now() - 60_000;
const loaded: string[] = [];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (loaded.length) spawnSync('docker', ['rmi', '-f', ...loaded], { stdio: 'ignore' });
});

beforeAll(() => {
  if (!dockerAvailable()) throw new Error('no Docker engine: start dockerd (make deps and .ci/run do)');
});

/** Unpacks image (a reference or an archive path) with keel into a store of its own; returns the rootfs. */
async function unpack(image: string, cache: string): Promise<string> {
  process.env.KEEL_CACHE = join(dir, cache);
  try {
    return (await resolveImage(image, dir, undefined, silentProgress, image)).rootfs;
  } finally {
    delete process.env.KEEL_CACHE;
  }
}

// What Docker adds to every container: the init layer's files, and /etc, where it puts them (its owner and mode are Docker's).
const DOCKER_ADDS = /^(\.dockerenv|etc\/(hosts|hostname|resolv\.conf|mtab)|dev|proc|sys)(\/|$)/;
const skip = (rel: string) => DOCKER_ADDS.test(rel) || rel === 'etc';

const file = (path: string, data: string, more: Partial<TarItem> = {}): TarItem => ({ path, data, ...more });
const dir_ = (path: string, more: Partial<TarItem> = {}): TarItem => ({ path, type: 'dir', ...more });
const symlink = (path: string, target: string): TarItem => ({ path, type: 'symlink', target });
const hardlink = (path: string, target: string, more: Partial<TarItem> = {}): TarItem => ({ path, type: 'hardlink', target, ...more });
const whiteout = (path: string): TarItem => ({ path: path.replace(/[^/]+$/, (b) => `.wh.${b}`), data: '' });
const opaque = (dirPath: string): TarItem => ({ path: `${dirPath}/.wh..wh..opq`, data: '' });

/** A usr-merged root, as Debian has it: lib, bin and lib64 are symlinks into usr. */
const usrMerged: TarItem[] = [
  dir_('etc'),
  dir_('usr'),
  dir_('usr/lib'),
  file('usr/lib/libc.so.6', 'libc'),
  dir_('usr/lib/x86_64-linux-gnu'),
  file('usr/lib/x86_64-linux-gnu/libm.so.6', 'libm'),
  dir_('usr/bin'),
  file('usr/bin/sh', 'sh', { mode: 0o755 }),
  symlink('lib', 'usr/lib'),
  symlink('bin', 'usr/bin'),
  symlink('lib64', '/usr/lib'),
];

// Every kind of path a lower layer can leave, and every kind a layer can put over it.
const LOWER = ['file', 'dir', 'dirlink', 'filelink', 'hardlinked', 'fifo'] as const;
const UPPER = ['file', 'dir', 'symlink', 'hardlink', 'whiteout', 'opaque', 'implicit'] as const;

function lowerItems(kind: (typeof LOWER)[number], p: string): TarItem[] {
  switch (kind) {
    case 'file':
      return [file(p, `lower ${p}`, { mode: 0o600, uid: 7 })];
    case 'dir':
      return [dir_(p, { mode: 0o750, uid: 7, gid: 8 }), file(`${p}/child`, 'lower child')];
    case 'dirlink':
      return [symlink(p, 'target-dir')];
    case 'filelink':
      return [symlink(p, '/t/target-file')];
    case 'hardlinked':
      return [file(p, `lower ${p}`), hardlink(`${p}.partner`, p)];
    case 'fifo':
      return [{ path: p, type: 'fifo', mode: 0o640 }];
  }
}

function upperItems(kind: (typeof UPPER)[number], p: string): TarItem[] {
  switch (kind) {
    case 'file':
      return [file(p, `upper ${p}`, { mode: 0o4755, uid: 9, gid: 9, mtime: 1_100_000_000 })];
    case 'dir':
      return [dir_(p, { mode: 0o700, uid: 9 }), file(`${p}/new`, 'upper child')];
    case 'symlink':
      return [symlink(p, 'target-dir')];
    case 'hardlink':
      return [hardlink(p, 't/upper-source')];
    case 'whiteout':
      return [whiteout(p)];
    case 'opaque':
      return [dir_(p, { mode: 0o711 }), opaque(p), file(`${p}/new`, 'upper child')];
    case 'implicit':
      return [file(`${p}/new`, 'upper child')];
  }
}

const typeChanges = (): TarItem[][] => {
  const lower: TarItem[] = [dir_('etc'), dir_('t'), dir_('t/target-dir'), file('t/target-dir/kept', 'kept'), file('t/target-file', 'target')];
  const upper: TarItem[] = [dir_('t'), file('t/upper-source', 'upper source', { mode: 0o640, uid: 3 })];
  for (const l of LOWER) {
    for (const u of UPPER) {
      lower.push(...lowerItems(l, `t/${l}-${u}`));
      upper.push(...upperItems(u, `t/${l}-${u}`));
    }
  }
  return [lower, upper];
};

interface Shape {
  name: string;
  layers: TarItem[][];
  /** Paths keel's root must hold (so that a comparison of two empty trees cannot pass). */
  has: string[];
  lacks: string[];
}

const SHAPES: Shape[] = [
  {
    name: 'usrmerge-opaque-lib',
    // The image: the next layer makes lib/ an opaque directory (with and without its own entry).
    layers: [usrMerged, [dir_('lib'), opaque('lib'), dir_('lib/modules'), file('lib/modules/m.ko', 'ko'), opaque('lib64'), file('lib64/ld.so', 'ld')]],
    has: ['usr/lib/libc.so.6', 'usr/lib/x86_64-linux-gnu/libm.so.6', 'lib/modules/m.ko', 'lib64/ld.so', 'bin'],
    lacks: ['lib/libc.so.6', 'usr/lib/modules', 'usr/lib/ld.so'],
  },
  {
    name: 'whiteout-symlink',
    layers: [
      [...usrMerged, dir_('data'), file('data/f', 'f'), symlink('to-data', '/data')],
      [whiteout('lib'), whiteout('to-data'), dir_('usr'), dir_('usr/bin'), whiteout('usr/bin/sh')],
    ],
    has: ['usr/lib/libc.so.6', 'data/f', 'bin'],
    lacks: ['lib', 'to-data', 'usr/bin/sh'],
  },
  {
    name: 'type-changes',
    layers: typeChanges(),
    has: ['t/file-dir/new', 't/dir-dir/child', 't/dir-dir/new', 't/hardlinked-file.partner', 't/target-dir/kept', 't/dirlink-implicit/new'],
    lacks: ['t/dir-opaque/child', 't/dir-whiteout', 't/target-dir/new'],
  },
  {
    name: 'hardlinks',
    layers: [
      [dir_('etc'), dir_('h'), file('h/a', 'A', { mode: 0o640, uid: 5 }), hardlink('h/b', 'h/a', { mode: 0o640, uid: 5 }), hardlink('h/c', 'h/a', { mode: 0o640, uid: 5 }), file('h/d', 'D'), hardlink('h/e', 'h/d')],
      [
        dir_('h'),
        file('h/a', 'A2'),
        whiteout('h/c'),
        file('h/f', 'F', { mode: 0o600 }),
        // The link's own header sets the mode of the file it shares.
        hardlink('h/g', 'h/f', { mode: 0o644 }),
        symlink('h/sl', 'a'),
        hardlink('h/hsl', 'h/sl'),
        symlink('via', 'h'),
        hardlink('h/through-symlink', 'via/f'),
        file('h/e', 'E'),
      ],
    ],
    has: ['h/b', 'h/g', 'h/hsl', 'h/through-symlink'],
    lacks: ['h/c'],
  },
  {
    name: 'symlinked-parents',
    layers: [
      [
        ...usrMerged,
        dir_('real', { mode: 0o700, uid: 3 }),
        file('real/lower', 'l'),
        symlink('abs', '/real'),
        dir_('k', { mode: 0o700, uid: 3 }),
        file('k/kept', 'k'),
        dir_('tmp', { mode: 0o1777 }),
        dir_('deep'),
        dir_('deep/er'),
      ],
      [
        // Below a lower layer's symlink, without the directory's own entry: the path names itself.
        file('lib/foo', 'foo'),
        file('abs/x', 'x'),
        // Nested parents the layer does not list, over a lower directory.
        file('k/a/b/c', 'abc', { uid: 5 }),
        file('tmp/x', 'x'),
        // deep/ gets no new child, yet it is made afresh too (its time is the unpacking's).
        file('deep/er/f', 'f'),
        // Below a symlink of the same layer: followed inside the root. (Absolute and climbing
        // ones are below, without the engine: its `docker save` follows them on the host.)
        dir_('b2', { mode: 0o750 }),
        symlink('a', 'b2'),
        file('a/x', 'ax'),
        dir_('b2/sub'),
        symlink('g', 'b2/sub'),
        file('g/w', 'gw'),
        symlink('h', 'b2/sub/../sub'),
        file('h/v', 'hv'),
      ],
    ],
    has: ['usr/lib/libc.so.6', 'lib/foo', 'abs/x', 'real/lower', 'b2/x', 'b2/sub/w', 'b2/sub/v', 'k/a/b/c', 'k/kept'],
    lacks: ['usr/lib/foo', 'real/x'],
  },
  {
    name: 'whiteout-order',
    layers: [
      [dir_('etc'), dir_('p'), file('p/old', 'o'), dir_('w'), file('w/old', 'o'), file('gone', 'g'), dir_('q'), file('q/old', 'o'), file('q/wh', 'wh')],
      [
        // The opaque marker after one of the directory's new children: it hides only the lower ones.
        dir_('p'),
        file('p/-first', 'f'),
        opaque('p'),
        file('p/zz', 'z'),
        // A whiteout, then an entry at the same path: the entry replaces the whiteout (the lower directory shows through).
        whiteout('w'),
        dir_('w'),
        file('w/new', 'n'),
        // overlayfs' own whiteout: a 0/0 character device.
        { path: 'gone', type: 'char', major: 0, minor: 0, mode: 0o600 },
        // A whiteout after the directory's entry.
        dir_('q'),
        whiteout('q/wh'),
        // An opaque marker for the root: overlayfs never makes a layer's root opaque.
        opaque('.'),
      ],
    ],
    has: ['p/-first', 'p/zz', 'w/new', 'w/old', 'q/old'],
    lacks: ['p/old', 'gone', 'q/wh'],
  },
  {
    name: 'formats',
    layers: [
      [
        dir_('etc'),
        dir_('nodes'),
        { path: 'nodes/null', type: 'char', major: 1, minor: 3, mode: 0o666 },
        { path: 'nodes/loop0', type: 'block', major: 7, minor: 0, mode: 0o660, gid: 6 },
        { path: 'nodes/fifo', type: 'fifo', mode: 0o620, uid: 3 },
        file('modes/suid', 's', { mode: 0o4755 }),
        file('modes/sgid', 's', { mode: 0o2711, uid: 1000, gid: 1001 }),
        dir_('modes/sticky', { mode: 0o1777 }),
        dir_('modes/sgid-dir', { mode: 0o2750, gid: 50 }),
        file(`long/${'p'.repeat(120)}/${'x'.repeat(150)}`, 'pax name'),
        file(`long/${'g'.repeat(120)}/${'y'.repeat(150)}`, 'gnu name', { long: 'gnu' }),
        symlink('long/pax-link', `${'t'.repeat(200)}`),
        { ...symlink('long/gnu-link', `${'u'.repeat(200)}`), long: 'gnu' },
        file('ids/pax', 'big ids', { uid: 3_000_000, gid: 4_000_000 }),
        file('ids/base256', 'big ids', { uid: 3_000_001, gid: 4_000_001, long: 'gnu' }),
        file('times/old', 'old', { mtime: 86_400 }),
        file('times/new', 'new', { mtime: 2_000_000_000 }),
        file('chmod/f', 'same', { mode: 0o600, uid: 1 }),
      ],
      [dir_('chmod', { mode: 0o700, uid: 2, gid: 2, mtime: 1_200_000_000 }), file('chmod/f', 'same', { mode: 0o644, uid: 2, gid: 3 })],
    ],
    has: ['nodes/null', 'nodes/fifo', `long/${'p'.repeat(120)}/${'x'.repeat(150)}`, `long/${'g'.repeat(120)}/${'y'.repeat(150)}`, 'ids/base256'],
    lacks: [],
  },
];

describe('layers unpacked as the Docker engine shows them', () => {
  it.each(SHAPES.map((s) => [s.name, s] as const))('%s', async (name, shape) => {
    const tag = `${T}/layer-${name}:1`;
    const id = dockerArchive(dir, join(dir, `${name}.tar`), tag, { layers: shape.layers.map((entries) => ({ entries })) });
    dockerLoad(join(dir, `${name}.tar`));
    loaded.push(id);
    const rootfs = await unpack(tag, `cache-${name}`);
    const exported = join(dir, `export-${name}`);
    dockerExport(tag, exported);
    for (const p of shape.has) expect(lstatSync(join(rootfs, p), { throwIfNoEntry: false }), `keel's root has /${p}`).toBeDefined();
    for (const p of shape.lacks) expect(lstatSync(join(rootfs, p), { throwIfNoEntry: false }), `keel's root lacks /${p}`).toBeUndefined();
    expect(diffTrees(treeOf(rootfs, started, skip), treeOf(exported, started, skip))).toEqual([]);
  });

  it('gives the same root from an OCI layout with zstd and gzip layers as from a docker save archive', async () => {
    const [lower, upper] = typeChanges();
    ociLayout(dir, join(dir, 'zstd-layout'), 'z', { layers: [{ entries: lower!, compress: 'zstd' }, { entries: upper!, compress: 'gzip' }] });
    dockerArchive(dir, join(dir, 'plain.tar'), `${T}/plain:1`, { layers: [{ entries: lower! }, { entries: upper! }] });
    const fromLayout = await unpack('./zstd-layout#z', 'cache-zstd');
    const fromArchive = await unpack('./plain.tar', 'cache-plain');
    expect(lstatSync(join(fromLayout, 't/dir-dir/new')).isFile()).toBe(true);
    expect(diffTrees(treeOf(fromLayout, started), treeOf(fromArchive, started))).toEqual([]);
  });

  it('takes a compressed docker save archive, as docker load does', async () => {
    const layers = SHAPES[0]!.layers.map((entries) => ({ entries }));
    dockerArchive(dir, join(dir, 'packed.tar'), `${T}/packed:1`, { layers });
    writeFileSync(join(dir, 'packed.tar.gz'), gzipSync(readFileSync(join(dir, 'packed.tar'))));
    const fromGzip = await unpack('./packed.tar.gz', 'cache-gzip-archive');
    const fromTar = await unpack('./packed.tar', 'cache-tar-archive');
    expect(readFileSync(join(fromGzip, 'usr/lib/libc.so.6'), 'utf8')).toBe('libc');
    expect(diffTrees(treeOf(fromGzip, started), treeOf(fromTar, started))).toEqual([]);
  });
});

describe('layers the engine refuses, and hostile layers', () => {
  /** Unpacks a `docker save` archive of these layers (no engine involved); returns the rootfs or the error. */
  async function unpackArchive(name: string, layers: TarItem[][]): Promise<string> {
    dockerArchive(dir, join(dir, `${name}.tar`), `${T}/${name}:1`, { layers: layers.map((entries) => ({ entries })) });
    return unpack(`./${name}.tar`, `cache-${name}`);
  }

  it('refuses a damaged layer with a message naming the layer', async () => {
    const good = tarOf([file('a', 'x'.repeat(2000))]);
    const archive = (name: string, raw: Buffer) => {
      dockerArchive(dir, join(dir, `${name}.tar`), `${T}/${name}:1`, { layers: [{ entries: [file('ok', 'ok')] }, { raw }] });
      return unpack(`./${name}.tar`, `cache-${name}`);
    };
    await expect(archive('truncated', good.subarray(0, 1000))).rejects.toThrow(/^\.\/truncated\.tar: layer 2 of 2: the tar stream is truncated \(it ends inside an entry, at byte 1000\)$/);
    await expect(archive('not-tar', Buffer.alloc(2048, 'junk'))).rejects.toThrow(/layer 2 of 2: not a tar archive: bad header checksum at byte 0$/);
    await expect(archive('bad-gzip', Buffer.concat([gzipSync(good).subarray(0, 40), Buffer.alloc(100)]))).rejects.toThrow(/layer 2 of 2: .*(incorrect|invalid|unexpected end)/i);
  });

  it('links a hard link to a lower layer file (overlay2 refuses to load such a layer)', async () => {
    const root = await unpackArchive('cross-layer-link', [[file('a', 'A', { mode: 0o600, uid: 4 })], [hardlink('b', 'a', { mode: 0o640, uid: 4 })]]);
    expect(statSync(join(root, 'b')).ino).toBe(statSync(join(root, 'a')).ino);
    expect(readFileSync(join(root, 'b'), 'utf8')).toBe('A');
    expect(statSync(join(root, 'a')).mode & 0o7777).toBe(0o640);
  });

  it('ignores a whiteout below a directory the same layer whites out', async () => {
    const root = await unpackArchive('whiteout-below', [[dir_('deep'), dir_('deep/x'), file('deep/x/y', 'y'), file('deep/z', 'z')], [whiteout('deep'), whiteout('deep/x')]]);
    expect(lstatSync(join(root, 'deep'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it('refuses entries and hard links that climb out of the image', async () => {
    await expect(unpackArchive('climb', [[file('../../keel-climbed', 'x')]])).rejects.toThrow(/layer 1 of 1: "\.\.\/\.\.\/keel-climbed": the path points outside the image/);
    await expect(unpackArchive('climb-link', [[hardlink('passwd', '../../../etc/passwd')]])).rejects.toThrow(/hard link target "\.\.\/\.\.\/\.\.\/etc\/passwd" points outside the image/);
    const before = statSync('/etc/passwd').nlink;
    await expect(unpackArchive('link-through-root', [[symlink('evil', '/'), hardlink('passwd', 'evil/etc/passwd')]])).rejects.toThrow(/the hard link target \/evil\/etc\/passwd cannot be reached: \/etc does not exist/);
    expect(statSync('/etc/passwd').nlink).toBe(before);
  });

  it('never whites out, empties or writes through a lower symlink to a host directory', async () => {
    const victim = mkdtempSync(join(tmpdir(), 'keel-victim-'));
    try {
      writeFileSync(join(victim, 'precious'), 'keep');
      mkdirSync(join(victim, 'sub'));
      const root = await unpackArchive('through-lower-link', [
        [symlink('v1', victim), symlink('v2', victim), symlink('v3', victim), symlink('v4', `../../../../../../..${victim}`)],
        [opaque('v1'), whiteout('v2/precious'), file('v3/planted', 'x'), whiteout('v4/sub')],
      ]);
      expect(readFileSync(join(victim, 'precious'), 'utf8')).toBe('keep');
      expect(existsSync(join(victim, 'sub'))).toBe(true);
      expect(existsSync(join(victim, 'planted'))).toBe(false);
      expect(lstatSync(join(root, 'v1')).isDirectory()).toBe(true);
      expect(readFileSync(join(root, 'v3/planted'), 'utf8')).toBe('x');
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it('follows an absolute or climbing symlink of the same layer inside the root, as a chroot would', async () => {
    const root = await unpackArchive('same-layer-escape', [
      [
        dir_('etc'),
        symlink('etc-link', '/etc'),
        file('etc-link/keel-planted', 'x'),
        dir_('tmp'),
        symlink('dotdot', '../../../..'),
        file('dotdot/tmp/keel-planted', 'y'),
        symlink('evil', '/'),
        file('evil/keel-planted', 'z'),
        dir_('b2'),
        symlink('e', '../../b2/../../b2'),
        file('e/w', 'w'),
      ],
    ]);
    expect(readFileSync(join(root, 'etc/keel-planted'), 'utf8')).toBe('x');
    expect(readFileSync(join(root, 'tmp/keel-planted'), 'utf8')).toBe('y');
    expect(readFileSync(join(root, 'keel-planted'), 'utf8')).toBe('z');
    expect(readFileSync(join(root, 'b2/w'), 'utf8')).toBe('w');
    expect(readlinkSync(join(root, 'etc-link'))).toBe('/etc');
    for (const host of ['/etc/keel-planted', '/tmp/keel-planted', '/keel-planted']) expect(existsSync(host), host).toBe(false);
  });
});

// The initramfs as the kernel unpacks it: the root's entries written as
// several cpio archives, each compressed on its own and the results
// concatenated (the kernel unpacks one compressed archive after another,
// as it does for microcode before the initramfs). That lets the slow, small
// zstd -19 run once per piece rather than once per build: each compressed
// archive is kept in keel's cache under the hash of what it holds, and a
// build compresses only the pieces it has not seen (keel's own files, the
// manifest), not node or runc again.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import PQueue from 'p-queue';
import { cacheDir, markUsed, scratchDone, scratchFor, sweepDeadScratch, sweepUnused } from './cache.js';
import { IMAGE_NODE } from '../../model/layout.js';
import { cpioPath, normalizeEntries, writeCpio, type CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';

export const COMPRESSIONS = ['mixed', 'zstd', 'gzip', 'lz4'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
/** How one archive is compressed: mixed is zstd for some archives and lz4 for one. */
type ArchiveCompression = Exclude<Compression, 'mixed'>;
export const DEFAULT_COMPRESSION: Compression = 'mixed';

/**
 * mixed: the image's node (86 MB, most of what the kernel unpacks before
 * /init can run) in lz4, the rest in zstd. Under emulation (qemu TCG) the
 * kernel unpacks lz4 about three times as fast as zstd; zstd is a third
 * smaller. Once the ICU data is cut (icu-data.ts) an empty manifest's
 * initrd is 22.2 MiB all zstd, 29.9 MiB mixed, and boots a second sooner
 * under TCG (bench/results/boot.json). The lz4 archive goes last: the
 * kernel's lz4 reader has no end of stream, and reads whatever follows it as
 * more lz4 (another lz4 archive is fine: its magic starts a new stream).
 */
const LZ4_WHEN_MIXED = cpioPath(IMAGE_NODE);

/**
 * How each is made. zstd -19 keeps the window at 8 MiB, the most the
 * kernel's decompressor takes; lz4 must be the legacy format (-l), the only
 * one the kernel reads. The content size goes in each zstd frame's header,
 * which is how `keel run` knows how much memory the initrd unpacks to.
 */
const COMMANDS: Record<Exclude<ArchiveCompression, 'gzip'>, (size: number) => string[]> = {
  zstd: (size) => ['zstd', '-19', '-T0', '-q', '-c', `--stream-size=${size}`],
  lz4: () => ['lz4', '-l', '-9', '-q', '-c'],
};
const LEVEL: Record<ArchiveCompression, string> = { zstd: '19', gzip: '9', lz4: 'l9' };
const ARCHIVE_COMPRESSIONS = Object.keys(LEVEL) as ArchiveCompression[];

/** What an archive other than node's is compressed with (mixed: zstd). */
const restOf = (method: Compression): ArchiveCompression => (method === 'mixed' ? 'zstd' : method);

/** A file this big gets an archive of its own (node, runc), which builds share; busybox and libc share one (sharesCRuntime). */
const OWN_ARCHIVE = 1 << 20;
/** Small entries share an archive until it holds this much, or a new top directory starts past 1 MiB. */
const ARCHIVE_MAX = 8 << 20;
const ARCHIVE_MIN = 1 << 20;

const dataOf = (e: CpioEntry): number => (e.type === 'file' ? e.data.length : 0);
const topOf = (path: string): string => path.split('/').slice(0, 2).join('/');

/**
 * Big files that share one archive instead of one each: busybox (static,
 * built on glibc) and the shared C libraries (glibc's, libstdc++). Their
 * code overlaps: busybox and libc.so compress a fifth smaller together than
 * apart (1.34 against 1.68 MB at zstd -19), which separate archives cannot
 * find. They change together, when the host's packages do, so the shared
 * archive keeps in keel's cache as the pieces did. Paths as normalized (no
 * leading slash).
 */
const sharesCRuntime = (path: string): boolean => path === 'bin/busybox' || /^lib(64)?\/(.+\/)?lib[^/]*\.so(\.[\d.]+)?$/.test(path);

/**
 * The normalized entries cut into runs, in order: a big file alone, small
 * ones together, cut where a top directory changes once a run is big
 * enough, so one changed file changes few runs; last, the big files that
 * share an archive (sharesCRuntime).
 */
export function splitEntries(sorted: readonly CpioEntry[]): CpioEntry[][] {
  const runs: CpioEntry[][] = [];
  let run: CpioEntry[] = [];
  let size = 0;
  const flush = () => {
    if (run.length) runs.push(run);
    run = [];
    size = 0;
  };
  const shared: CpioEntry[] = [];
  for (const e of sorted) {
    if (dataOf(e) >= OWN_ARCHIVE && sharesCRuntime(e.path)) {
      shared.push(e);
      continue;
    }
    if (dataOf(e) >= OWN_ARCHIVE) {
      flush();
      runs.push([e]);
      continue;
    }
    const prev = run[run.length - 1];
    if (size >= ARCHIVE_MAX || (size >= ARCHIVE_MIN && prev && topOf(prev.path) !== topOf(e.path))) flush();
    run.push(e);
    size += dataOf(e);
  }
  flush();
  // After every other run: the directories it fills are made by then when the kernel unpacks them in order.
  if (shared.length) runs.push(shared);
  return runs;
}

function runCompressor(argv: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.on('error', () => {}); // a compressor that died: its exit says why
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(new BuildError(e.code === 'ENOENT' ? `${argv[0]} was not found; install it (apt-get install ${argv[0]}) or choose another --compress` : `${argv[0]}: ${e.message}`)),
    );
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new BuildError(`${argv.join(' ')} failed: ${err.trim() || `exit ${code}`}`))));
    child.stdin.end(input);
  });
}

/** `data` as one compressed archive (mixed: zstd, as for everything but node's binary). */
export function compress(method: Compression, data: Buffer): Promise<Buffer> {
  const m = restOf(method);
  if (m === 'gzip') return Promise.resolve(gzipSync(data, { level: 9 }));
  return runCompressor(COMMANDS[m](data.length), data);
}

function cacheFor(method: ArchiveCompression): string {
  return join(cacheDir(), 'initrd', `${method}-${LEVEL[method]}`);
}

/** One archive compressed, from the cache when this exact archive was compressed before. */
async function compressedArchive(method: ArchiveCompression, cpio: Buffer): Promise<Buffer> {
  const dir = cacheFor(method);
  const final = join(dir, createHash('sha256').update(cpio).digest('hex'));
  if (existsSync(final)) {
    markUsed(final); // in use: kept by the sweep
    return readFileSync(final);
  }
  const packed = await compress(method, cpio);
  mkdirSync(dir, { recursive: true });
  const scratch = scratchFor(final);
  writeFileSync(scratch, packed);
  renameSync(scratch, final);
  scratchDone(scratch);
  return packed;
}

/** Removes what dead builds left half-written, and archives unused for 30 days. */
export function sweepInitrdCache(): void {
  for (const method of ARCHIVE_COMPRESSIONS) {
    sweepDeadScratch(cacheFor(method));
    sweepUnused(cacheFor(method));
  }
}

/** The initramfs of `entries`: one compressed archive per run, concatenated (same entries, same bytes). */
export async function compressInitrd(entries: readonly CpioEntry[], method: Compression): Promise<Buffer> {
  const runs = splitEntries(normalizeEntries(entries));
  const fast = (run: CpioEntry[]) => method === 'mixed' && run.length === 1 && run[0]!.path === LZ4_WHEN_MIXED;
  // Its parent directories are in the archives before it, so node's archive can move to the end.
  const ordered = [...runs.filter((r) => !fast(r)), ...runs.filter(fast)];
  const queue = new PQueue({ concurrency: Math.max(1, availableParallelism()) });
  const parts = await Promise.all(ordered.map((run) => queue.add(() => compressedArchive(fast(run) ? 'lz4' : restOf(method), writeCpio(run)))));
  return Buffer.concat(parts as Buffer[]);
}

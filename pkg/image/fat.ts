// A FAT32 file system written straight into an image file at an offset
// with mtools (mformat, mmd, mcopy): no loop device, no mount, no root
// needed. Sized to what it holds; the volume serial is given and every date
// is the build's epoch, so the same files give the same bytes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BuildError } from './kernel.js';

export const FAT_PACKAGE = 'mtools';

const SECTOR = 512;
const MIB = 2 ** 20;
/** FAT32 needs at least this many clusters; fewer and a reader takes it for FAT16. */
const FAT32_MIN_CLUSTERS = 65525;
const RESERVED_SECTORS = 32;
/** The largest file FAT32 holds (its size field is 32 bits). */
const FAT_MAX_FILE = 2 ** 32 - 1;
/** FAT dates start in 1980. */
const FAT_EPOCH_FLOOR = 315532800;

export interface FatFile {
  /** Path inside the file system, with "/" between folders, e.g. EFI/BOOT/BOOTX64.EFI. */
  path: string;
  data: Buffer;
}

export interface FatOptions {
  /** The image file (it must exist and be large enough) and where the file system starts in it. */
  image: string;
  offset: number;
  plan: FatPlan;
  /** Sectors before the file system on the disk (the partition's start), for boot code that reads the BPB. */
  hiddenSectors: number;
  serial: number;
  label: string;
  epoch: number;
}

const clusterBytes = (spc: number) => spc * SECTOR;

/** Sectors per cluster: the largest of 8, 4, 2, 1 that still gives FAT32 enough clusters for this payload. */
function sectorsPerCluster(payload: number): number {
  for (const spc of [8, 4, 2]) if (payload / clusterBytes(spc) >= FAT32_MIN_CLUSTERS * 1.25) return spc;
  return 1;
}

export interface FatPlan {
  /** The file system's size, whole MiB. */
  bytes: number;
  sectorsPerCluster: number;
}

/**
 * How big a FAT32 file system these files need: their clusters, a few per
 * folder, both FATs and the reserved sectors, with `reserve` bytes more for
 * files other tools add (a boot loader), rounded up to whole MiB.
 */
export function planFat(files: readonly FatFile[], reserve = 0): FatPlan {
  const huge = files.find((f) => f.data.length > FAT_MAX_FILE);
  if (huge) throw new BuildError(`${huge.path} is ${Math.ceil(huge.data.length / MIB)} MiB; a FAT32 file holds at most 4 GiB - 1 byte, so this image is too big for a disk format`);
  const payload = files.reduce((n, f) => n + f.data.length, reserve);
  const spc = sectorsPerCluster(payload);
  const cb = clusterBytes(spc);
  const dirs = folders(files).length + 1;
  let clusters = files.reduce((n, f) => n + Math.ceil(f.data.length / cb), Math.ceil(reserve / cb)) + dirs * 4 + 64;
  clusters = Math.max(clusters, FAT32_MIN_CLUSTERS + 64);
  const fatSectors = Math.ceil(((clusters + 2) * 4) / SECTOR);
  const sectors = RESERVED_SECTORS + 2 * fatSectors + clusters * spc;
  return { bytes: Math.ceil((sectors * SECTOR) / MIB) * MIB, sectorsPerCluster: spc };
}

/** Every folder the files sit in, parents first. */
function folders(files: readonly FatFile[]): string[] {
  const all = new Set<string>();
  for (const f of files) {
    for (let d = dirname(f.path); d !== '.' && d !== '/'; d = dirname(d)) all.add(d);
  }
  return [...all].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/** The environment every mtools run gets: dates from the epoch (in UTC, from 1980 on), no user settings, no geometry checks. */
export function mtoolsEnv(epoch: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SOURCE_DATE_EPOCH: String(Math.max(epoch, FAT_EPOCH_FLOOR)),
    TZ: 'UTC',
    MTOOLS_SKIP_CHECK: '1',
    MTOOLSRC: '/dev/null', // no ~/.mtoolsrc (e.g. name mangling) changes the bytes
  };
}

function mtools(tool: string, args: string[], epoch: number): void {
  const env = mtoolsEnv(epoch);
  const r = spawnSync(tool, args, { encoding: 'utf8', env });
  if (r.error) throw new BuildError(`${tool} was not found (${r.error.message}); install it with "apt-get install ${FAT_PACKAGE}"`);
  if (r.status !== 0) throw new BuildError(`${tool} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
}

/** mtools' name for the file system inside the image: FILE@@OFFSET. */
export function fatDrive(image: string, offset: number): string {
  return `${image}@@${offset}`;
}

/** Formats FAT32 at opts.offset in opts.image and copies the files in, folders first. */
export function writeFat(opts: FatOptions, files: readonly FatFile[]): void {
  const drive = fatDrive(opts.image, opts.offset);
  const label = opts.label.toUpperCase().slice(0, 11);
  mtools('mformat', ['-i', drive, '-F', '-c', String(opts.plan.sectorsPerCluster), '-T', String(opts.plan.bytes / SECTOR), '-H', String(opts.hiddenSectors), '-N', opts.serial.toString(16).padStart(8, '0'), '-v', label, '::'], opts.epoch);
  const dirs = folders(files);
  if (dirs.length) mtools('mmd', ['-i', drive, ...dirs.map((d) => `::/${d}`)], opts.epoch);
  const tmp = mkdtempSync(join(tmpdir(), 'keel-fat-'));
  try {
    files.forEach((f, i) => {
      const src = join(tmp, String(i));
      writeFileSync(src, f.data);
      mtools('mcopy', ['-i', drive, src, `::/${f.path}`], opts.epoch);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** One file out of the FAT file system at `offset` in `image` (for `keel run`); undefined if it is not there. */
export function readFatFile(image: string, offset: number, path: string): Buffer | undefined {
  const tmp = mkdtempSync(join(tmpdir(), 'keel-fat-'));
  try {
    const out = join(tmp, 'file');
    const r = spawnSync('mcopy', ['-n', '-i', fatDrive(image, offset), `::/${path}`, out], { encoding: 'utf8', env: mtoolsEnv(0) });
    if (r.error) throw new BuildError(`mcopy was not found (${r.error.message}); install it with "apt-get install ${FAT_PACKAGE}"`);
    return r.status === 0 ? readFileSync(out) : undefined;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

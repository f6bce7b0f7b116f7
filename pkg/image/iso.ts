// The iso-bios output: a hybrid ISO 9660 image (CD or USB stick) that boots
// the kernel and initrd through isolinux, with the bootloader on the serial
// port too. xorriso writes it with fixed dates and ids, so the same inputs
// give the same bytes.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BuildError } from './kernel.js';
import { buildEpoch } from './reproducible.js';
import { syslinuxConfig } from './syslinux.js';
import { spawnXorriso, xorrisoCrashed } from './xorriso.js';

/** Where the kernel and initrd sit inside the ISO (also read back by `keel run`). */
export const ISO_KERNEL = 'boot/kernel';
export const ISO_INITRD = 'boot/initrd.img';

export interface IsoTools {
  xorriso: string;
  isolinuxBin: string;
  ldlinux: string;
  /** The isohybrid MBR, so the same image also boots from a disk. */
  hybridMbr: string;
}

/** Where Debian's xorriso, isolinux and syslinux-common put them. */
export const DEBIAN_ISO_TOOLS: IsoTools = {
  xorriso: 'xorriso',
  isolinuxBin: '/usr/lib/ISOLINUX/isolinux.bin',
  ldlinux: '/usr/lib/syslinux/modules/bios/ldlinux.c32',
  hybridMbr: '/usr/lib/ISOLINUX/isohdpfx.bin',
};

export const ISO_PACKAGES = 'apt-get install xorriso isolinux syslinux-common';

export interface IsoOptions {
  kernel: string;
  initrd: string;
  cmdline: string;
  out: string;
  /** ISO volume id (at most 32 of A-Z 0-9 _); default KEEL. */
  volumeId?: string;
  /** Seconds since 1970 for every date in the image; default $SOURCE_DATE_EPOCH, else 1. */
  epoch?: number;
  tools?: Partial<IsoTools>;
}

/** isolinux.cfg: the kernel and initrd where the ISO holds them. */
export function isolinuxConfig(cmdline: string): string {
  return syslinuxConfig(cmdline, `/${ISO_KERNEL}`, `/${ISO_INITRD}`);
}

function checkTools(tools: IsoTools): void {
  const fix = `install them with "${ISO_PACKAGES}"`;
  const r = spawnSync(tools.xorriso, ['-version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new BuildError(`iso-bios needs xorriso, which was not found (${tools.xorriso}); ${fix}`);
  const missing = [tools.isolinuxBin, tools.ldlinux, tools.hybridMbr].filter((p) => !existsSync(p));
  if (missing.length) throw new BuildError(`iso-bios needs isolinux: ${missing.join(', ')} not found; ${fix}`);
}

/** xorriso's date form: YYYYMMDDhhmmsscc, UTC. */
function isoDate(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '00';
}

/** A -graft-points argument "IN_ISO=ON_DISK"; a "=" or "\\" in the disk path is escaped. */
function graft(inIso: string, onDisk: string): string {
  return `${inIso}=${resolve(onDisk).replace(/[\\=]/g, (c) => `\\${c}`)}`;
}

export interface XorrisoRun {
  xorriso: string;
  out: string;
  volumeId?: string;
  epoch?: number;
  /** What the ISO holds and how it boots: boot options and -graft-points "IN_ISO=ON_DISK" arguments. */
  contents: string[];
  /** The output's name in messages (iso-bios, iso-efi). */
  what: string;
}

/**
 * Runs xorriso to write an ISO to run.out, atomically (a failed build leaves
 * no file). Files are grafted from where they are (no copies); every date
 * and the volume uuid come from the epoch, so nothing of this machine or
 * this moment leaks in.
 */
export function runXorriso(run: XorrisoRun): void {
  const volumeId = run.volumeId ?? 'KEEL';
  if (!/^[A-Z0-9_]{1,32}$/.test(volumeId)) throw new BuildError(`${run.what}: volume id ${JSON.stringify(volumeId)} must be 1 to 32 of A-Z, 0-9 and _`);
  const epoch = buildEpoch(run.epoch);
  const out = resolve(run.out);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const args = [
      '-as', 'mkisofs',
      '-o', tmp,
      '-quiet',
      '-r', '-graft-points', // -r: owner root, modes normalized, whoever builds
      '-V', volumeId,
      '--modification-date=' + isoDate(epoch),
      '--set_all_file_dates', `=${epoch}`,
      ...run.contents,
    ];
    const { result: r, attempts } = spawnXorriso(run.xorriso, args, tmp, { ...process.env, SOURCE_DATE_EPOCH: String(epoch) });
    if (r.error) throw new BuildError(`${run.what} needs xorriso, which was not found (${run.xorriso}); install it with "apt-get install xorriso"`);
    if (r.status !== 0) {
      const crashed = xorrisoCrashed(r) ? ` (xorriso crashed on each of ${attempts} tries)` : '';
      throw new BuildError(`xorriso could not write ${out}${crashed}: ${r.stderr.trim()}`);
    }
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Writes a BIOS-bootable hybrid ISO to opts.out (atomically: a failed build leaves no file). */
export function writeIsoBios(opts: IsoOptions): void {
  const tools: IsoTools = { ...DEBIAN_ISO_TOOLS, ...opts.tools };
  checkTools(tools);
  for (const f of [opts.kernel, opts.initrd]) if (!existsSync(f)) throw new BuildError(`iso-bios: ${f} does not exist`);
  const cfgDir = mkdtempSync(join(tmpdir(), 'keel-iso-'));
  try {
    const cfg = join(cfgDir, 'isolinux.cfg');
    writeFileSync(cfg, isolinuxConfig(opts.cmdline));
    runXorriso({
      xorriso: tools.xorriso,
      out: opts.out,
      what: 'iso-bios',
      ...(opts.volumeId !== undefined ? { volumeId: opts.volumeId } : {}),
      ...(opts.epoch !== undefined ? { epoch: opts.epoch } : {}),
      contents: [
        '-isohybrid-mbr', tools.hybridMbr,
        '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat',
        '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
        graft('isolinux/isolinux.bin', tools.isolinuxBin),
        graft('isolinux/ldlinux.c32', tools.ldlinux),
        graft('isolinux/isolinux.cfg', cfg),
        graft(ISO_KERNEL, opts.kernel),
        graft(ISO_INITRD, opts.initrd),
      ],
    });
  } finally {
    rmSync(cfgDir, { recursive: true, force: true });
  }
}

export interface IsoExtent {
  offset: number;
  size: number;
}

/**
 * Finds a file in an ISO 9660 image by path (matched as isolinux does:
 * case-insensitive, without ";1"), so `keel run` can read the kernel and
 * initrd back without mounting or unpacking. Undefined if absent.
 */
export function findIsoFile(iso: string, path: string): IsoExtent | undefined {
  const fd = openSync(iso, 'r');
  try {
    const read = (offset: number, size: number): Buffer => {
      const b = Buffer.alloc(size);
      const n = readSync(fd, b, 0, size, offset);
      return b.subarray(0, n);
    };
    const pvd = read(16 * 2048, 2048);
    if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') throw new BuildError(`${iso} is not an ISO 9660 image`);
    let extent: IsoExtent = { offset: pvd.readUInt32LE(156 + 2) * 2048, size: pvd.readUInt32LE(156 + 10) };
    for (const part of path.split('/').filter(Boolean)) {
      const found = dirLookup(read(extent.offset, extent.size), part.toLowerCase());
      if (!found) return undefined;
      extent = found;
    }
    return extent;
  } finally {
    closeSync(fd);
  }
}

function dirLookup(dir: Buffer, name: string): IsoExtent | undefined {
  let i = 0;
  while (i < dir.length) {
    const len = dir[i]!;
    if (len === 0) {
      i = (Math.floor(i / 2048) + 1) * 2048; // records never cross a sector: skip its padding
      continue;
    }
    const nameLen = dir[i + 32]!;
    const raw = dir.toString('latin1', i + 33, i + 33 + nameLen);
    const plain = raw.replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase();
    if (plain === name) return { offset: dir.readUInt32LE(i + 2) * 2048, size: dir.readUInt32LE(i + 10) };
    i += len;
  }
  return undefined;
}

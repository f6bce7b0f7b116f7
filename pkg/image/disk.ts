// The raw disk every disk format starts from, in one of two layouts:
//   bios: an MBR with syslinux's boot code and one active FAT32 partition
//         holding syslinux, syslinux.cfg, the kernel and the initrd;
//   efi:  a GPT with one EFI system partition (FAT32) holding only
//         EFI/BOOT/BOOTX64.EFI, a unified kernel image (uki.ts).
// Written as files: sfdisk on the image file, mtools into the partition at
// its offset, syslinux's installer at that offset. The disk is as big as its
// contents need unless a size is asked for; the space past the partition is
// left unpartitioned. GUIDs, serials and dates come from the inputs.
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, renameSync, rmSync } from 'node:fs';
import { archBoot, hostArch, type Arch } from './arch.js';
import { planFat, writeFat, type FatFile } from './fat.js';
import { BuildError } from './kernel.js';
import { buildEpoch, contentSeed, derivedId32, derivedUuid } from './reproducible.js';
import { installSyslinux, SYSLINUX_RESERVE, syslinuxConfig } from './syslinux.js';
import { buildUki } from './uki.js';

export type Firmware = 'bios' | 'efi';

const SECTOR = 512;
export const MIB = 2 ** 20;
/** The partition starts at 1 MiB, where every partitioning tool since 2008 puts it (aligned for any medium). */
export const PARTITION_START = MIB;
/** Room at the end for the GPT's backup copy (33 sectors), kept to a whole MiB. */
const GPT_TAIL = MIB;
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** MBR type 0x0c: FAT32 addressed by LBA. */
const FAT32_LBA = 'c';
export const PARTITION_PACKAGE = 'fdisk';

export interface BootPayload {
  kernel: Buffer;
  initrd: Buffer;
  /** The manifest's kernel command line. */
  cmdline: string;
  arch?: Arch;
}

export interface RawDiskOptions {
  firmware: Firmware;
  /** The whole disk's size in bytes, when it should be bigger than its contents need (keel build --size). */
  size?: number;
  /** The disk's size is rounded up to a multiple of this (default 1 MiB). */
  unit?: number;
  epoch?: number;
  /** What the disk's ids are derived from (diskSeed); computed when not given. */
  seed?: string;
  /** The unified kernel image of this payload when already built (outputs.ts builds it once for all formats). */
  uki?: Buffer;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
const mib = (n: number) => `${Math.ceil(n / MIB)} MiB`;

/** The files the boot partition holds, and the room a boot loader's installer adds to them. */
function bootFiles(payload: BootPayload, firmware: Firmware, uki?: Buffer): { files: FatFile[]; reserve: number } {
  const boot = archBoot(payload.arch);
  if (firmware === 'efi') return { files: [{ path: boot.efiBootPath, data: uki ?? buildUki(payload) }], reserve: 0 };
  if (!boot.bios) throw new BuildError(`${payload.arch} has no BIOS; build an EFI format instead`);
  const cfg = syslinuxConfig(payload.cmdline, '/kernel', '/initrd.img');
  return {
    files: [
      { path: 'syslinux.cfg', data: Buffer.from(cfg) },
      { path: 'kernel', data: payload.kernel },
      { path: 'initrd.img', data: payload.initrd },
    ],
    reserve: SYSLINUX_RESERVE,
  };
}

/** sfdisk's script for the one partition, with ids derived from `seed`. */
function partitionScript(firmware: Firmware, partBytes: number, seed: string): string {
  const start = PARTITION_START / SECTOR;
  const size = partBytes / SECTOR;
  if (firmware === 'bios') {
    const id = derivedId32(`${seed}/mbr`).toString(16).padStart(8, '0');
    return `label: dos\nlabel-id: 0x${id}\nunit: sectors\n\nstart=${start}, size=${size}, type=${FAT32_LBA}, bootable\n`;
  }
  return `label: gpt\nlabel-id: ${derivedUuid(`${seed}/disk`)}\nunit: sectors\n\nstart=${start}, size=${size}, type=${ESP_TYPE}, uuid=${derivedUuid(`${seed}/esp`)}, name="EFI System"\n`;
}

function partition(image: string, script: string): void {
  const r = spawnSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', '--wipe', 'never', image], { input: script, encoding: 'utf8' });
  if (r.error) throw new BuildError(`sfdisk was not found (${r.error.message}); install it with "apt-get install ${PARTITION_PACKAGE}"`);
  if (r.status !== 0) throw new BuildError(`sfdisk could not partition ${image}: ${(r.stderr || r.stdout).trim()}`);
}

/** The digest of everything a disk holds, that its GUIDs, serials and other ids are derived from. */
export function diskSeed(payload: BootPayload, firmware: Firmware): string {
  return contentSeed([payload.kernel, payload.initrd, payload.cmdline, payload.arch ?? hostArch(), firmware]);
}

/** Writes a bootable raw disk to `out` (atomically: a failed build leaves no file). Returns its size in bytes. */
export function writeRawDisk(out: string, payload: BootPayload, opts: RawDiskOptions): number {
  const epoch = buildEpoch(opts.epoch);
  const { files, reserve } = bootFiles(payload, opts.firmware, opts.uki);
  const plan = planFat(files, reserve);
  const need = PARTITION_START + plan.bytes + (opts.firmware === 'efi' ? GPT_TAIL : 0);
  if (opts.size !== undefined && opts.size < need) {
    throw new BuildError(`--size ${mib(opts.size)} is smaller than this image needs as a disk: give at least ${mib(need)}, or leave --size out`);
  }
  const bytes = roundUp(Math.max(need, opts.size ?? 0), opts.unit ?? MIB);
  const seed = opts.seed ?? diskSeed(payload, opts.firmware);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      ftruncateSync(fd, bytes); // sparse: only what is written takes room
    } finally {
      closeSync(fd);
    }
    partition(tmp, partitionScript(opts.firmware, plan.bytes, seed));
    const fat = { image: tmp, offset: PARTITION_START, plan, hiddenSectors: PARTITION_START / SECTOR, serial: derivedId32(`${seed}/fat`), label: 'KEEL', epoch };
    writeFat(fat, files);
    if (opts.firmware === 'bios') installSyslinux(tmp, PARTITION_START, epoch);
    renameSync(tmp, out);
    return bytes;
  } finally {
    rmSync(tmp, { force: true });
  }
}

// What `keel run` learns from an image before booting it: the firmware it
// needs (BIOS or UEFI), a kernel for the KVM probe and the least memory its
// initrd unpacks in. Disks and iso-efi images are read without mounting:
// the partition table by hand, the FAT through mtools, the kernel and
// initrd out of syslinux's files or the unified kernel image's sections.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archBoot } from '../image/arch.js';
import { readFatFile } from '../image/fat.js';
import { BuildError } from '../image/kernel.js';
import { QEMU_IMG_PACKAGE } from '../image/qemu-img.js';
import { ukiParts } from '../image/uki.js';
import type { DiskImage, Image } from './image.js';
import { elToritoEntries, isoInitrd, isoProbeKernel } from './iso.js';
import { cachedKernel } from './kernel-cache.js';
import { initrdMemoryMb, minimumMemoryMb } from './memory.js';
import { readAt } from './read-at.js';

export type Firmware = 'bios' | 'uefi';

export interface BootFacts {
  firmware: Firmware;
  /** Why that firmware, for keel run's first line. */
  why: string;
  /** A kernel file for the KVM probe. */
  kernel: string;
  memoryMb: number;
}

const SECTOR = 512;
/** MBR partition type of a GPT's protective entry. */
const GPT_PROTECTIVE = 0xee;

/** The kernel and initrd in the FAT at `offset`: the unified kernel image's for UEFI, syslinux's files for BIOS. */
function fromFat(file: string, offset: number, firmware: Firmware, what: string): { kernel: Buffer; initrd: Buffer } {
  if (firmware === 'uefi') {
    const path = archBoot().efiBootPath;
    const uki = readFatFile(file, offset, path);
    if (!uki) throw new BuildError(`${what} has no /${path}, so UEFI cannot boot it (a BIOS image boots without --uefi)`);
    const { kernel, initrd } = ukiParts(uki, `${what}: /${path}`);
    return {
      kernel: uki.subarray(kernel.rawOffset, kernel.rawOffset + kernel.virtualSize),
      initrd: uki.subarray(initrd.rawOffset, initrd.rawOffset + initrd.virtualSize),
    };
  }
  const kernel = readFatFile(file, offset, 'kernel');
  const initrd = readFatFile(file, offset, 'initrd.img');
  if (!kernel || !initrd) throw new BuildError(`${what} has no /kernel and /initrd.img in its boot partition; keel run boots BIOS disks that "keel build" made (or give --uefi for an EFI one)`);
  return { kernel, initrd };
}

function facts(firmware: Firmware, why: string, files: { kernel: Buffer; initrd: Buffer }): BootFacts {
  const { kernel, initrd } = files;
  return { firmware, why, kernel: cachedKernel(kernel), memoryMb: initrdMemoryMb(initrd) };
}

function isoFacts(iso: string, uefi: boolean): BootFacts {
  const entries = elToritoEntries(iso);
  const bios = entries.find((e) => e.firmware === 'bios');
  const efi = entries.find((e) => e.firmware === 'uefi');
  if (bios && !uefi) return { firmware: 'bios', why: 'BIOS', kernel: isoProbeKernel(iso), memoryMb: minimumMemoryMb(iso, isoInitrd(iso)) };
  if (!efi) throw new BuildError(uefi && bios ? `${iso} boots only with a BIOS; leave --uefi out` : `${iso} has no El Torito boot entry for a BIOS or UEFI`);
  return facts('uefi', uefi ? 'UEFI (asked for)' : 'UEFI (the ISO boots only with UEFI)', fromFat(iso, efi.offset, 'uefi', iso));
}

/** The disk's bytes as a raw file: the file itself for raw and fixed VHD, else a sparse copy qemu-img makes. */
function rawView(disk: DiskImage): { file: string; done: () => void } {
  if (disk.driver === 'raw' || disk.fixedVhd) return { file: disk.path, done: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'keel-run-disk-'));
  const file = join(dir, 'disk.raw');
  const r = spawnSync('qemu-img', ['convert', '-f', disk.driver, '-O', 'raw', disk.path, file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new BuildError(`cannot read ${disk.path} as ${disk.driver}: ${r.error ? `qemu-img was not found; install it with "apt-get install ${QEMU_IMG_PACKAGE}"` : r.stderr.trim()}`);
  }
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The byte offset of the disk's first partition (MBR or GPT). */
function firstPartition(file: string, what: string): number {
  const mbr = readAt(file, 0, SECTOR);
  if (mbr[510] !== 0x55 || mbr[511] !== 0xaa) throw new BuildError(`${what} has no partition table`);
  if (mbr[446 + 4] === GPT_PROTECTIVE) {
    const gpt = readAt(file, SECTOR, SECTOR);
    if (gpt.toString('latin1', 0, 8) !== 'EFI PART') throw new BuildError(`${what}: no GPT header after its protective MBR`);
    const entries = Number(gpt.readBigUInt64LE(72)) * SECTOR;
    return Number(readAt(file, entries, 128).readBigUInt64LE(32)) * SECTOR;
  }
  for (let i = 0; i < 4; i++) {
    const e = 446 + i * 16;
    if (mbr[e + 4] !== 0) return mbr.readUInt32LE(e + 8) * SECTOR;
  }
  throw new BuildError(`${what} has no partitions`);
}

function diskFacts(disk: DiskImage, uefi: boolean): BootFacts {
  const view = rawView(disk);
  try {
    // A BIOS runs the MBR's code; without any, only UEFI can boot the disk.
    const biosCode = readAt(view.file, 0, 440).some((b) => b !== 0);
    const firmware: Firmware = uefi || !biosCode ? 'uefi' : 'bios';
    const why = uefi ? 'UEFI (asked for)' : biosCode ? 'BIOS' : 'UEFI (the disk has no BIOS boot code)';
    return facts(firmware, why, fromFat(view.file, firstPartition(view.file, disk.path), firmware, disk.path));
  } finally {
    view.done();
  }
}

/** What keel run needs to know before it starts qemu; `uefi` is --uefi. */
export function bootFacts(image: Image, uefi: boolean): BootFacts {
  if (image.format === 'iso') return isoFacts(image.iso, uefi);
  if (image.format === 'disk') return diskFacts(image, uefi);
  return { firmware: uefi ? 'uefi' : 'bios', why: uefi ? 'UEFI (asked for)' : 'BIOS', kernel: image.kernel, memoryMb: minimumMemoryMb(image.initrd) };
}

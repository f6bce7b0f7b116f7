// The iso-efi output: an ISO that UEFI firmware boots from a CD drive or,
// written to a USB stick, from a disk. It holds one EFI system partition
// (FAT32 with EFI/BOOT/BOOTX64.EFI, the unified kernel image), appended
// after the ISO 9660 tree: the El Torito catalog's UEFI entry points at it
// for CDs, and the MBR's partition 2 (type 0xEF) for disks.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archBoot, type Arch } from './arch.js';
import { planFat, writeFat } from './fat.js';
import { DEBIAN_ISO_TOOLS, runXorriso } from './iso.js';
import { buildEpoch, derivedId32 } from './reproducible.js';

export interface IsoEfiOptions {
  /** The unified kernel image (uki.ts). */
  uki: Buffer;
  out: string;
  /** What the FAT's serial is derived from (the disk's content seed). */
  seed: string;
  arch?: Arch;
  epoch?: number;
  xorriso?: string;
}

/** Writes the EFI system partition image, then the ISO around it. */
export function writeIsoEfi(opts: IsoEfiOptions): void {
  const epoch = buildEpoch(opts.epoch);
  const files = [{ path: archBoot(opts.arch).efiBootPath, data: opts.uki }];
  const plan = planFat(files);
  const dir = mkdtempSync(join(tmpdir(), 'keel-iso-efi-'));
  try {
    const esp = join(dir, 'esp.img');
    const fd = openSync(esp, 'w');
    try {
      ftruncateSync(fd, plan.bytes);
    } finally {
      closeSync(fd);
    }
    writeFat({ image: esp, offset: 0, plan, hiddenSectors: 0, serial: derivedId32(`${opts.seed}/iso-esp`), label: 'KEEL', epoch }, files);
    runXorriso({
      xorriso: opts.xorriso ?? DEBIAN_ISO_TOOLS.xorriso,
      out: opts.out,
      what: 'iso-efi',
      epoch,
      contents: [
        // Partition 1 covers the ISO 9660 tree, partition 2 is the ESP; El Torito's entry is the same ESP.
        '-partition_offset', '16',
        '-append_partition', '2', '0xef', esp,
        '-e', '--interval:appended_partition_2:all::', '-no-emul-boot',
      ],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

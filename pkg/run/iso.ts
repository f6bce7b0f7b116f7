// `keel run` of an ISO: qemu boots it from a CD drive. The El Torito boot
// catalog says which firmware it boots with (BIOS, UEFI, or both); the
// kernel and initrd are read back out of an iso-bios's ISO 9660 tree for
// the KVM probe and the memory check (an iso-efi's are in its EFI image).
import { ISO_INITRD, ISO_KERNEL, findIsoFile, type IsoExtent } from '../image/iso.js';
import { BuildError } from '../image/kernel.js';
import { cachedKernel } from './kernel-cache.js';
import { readAt } from './read-at.js';

const SECTOR = 2048;
/** El Torito's platform ids. */
const PLATFORM_BIOS = 0x00;
const PLATFORM_EFI = 0xef;

/** Boot from the CD drive first, whatever disks are attached too. */
export function isoBootArgs(iso: string): string[] {
  return ['-cdrom', iso, '-boot', 'order=d'];
}

export interface BootEntry {
  firmware: 'bios' | 'uefi' | 'other';
  /** Where the boot image starts, in bytes (for UEFI: a FAT file system). */
  offset: number;
}

/** The El Torito boot entries: the default one, then each section's. Empty if the ISO does not boot. */
export function elToritoEntries(iso: string): BootEntry[] {
  const record = readAt(iso, 17 * SECTOR, SECTOR);
  if (record[0] !== 0 || record.toString('latin1', 1, 6) !== 'CD001' || !record.toString('latin1', 7, 30).startsWith('EL TORITO SPECIFICATION')) return [];
  const catalog = readAt(iso, record.readUInt32LE(0x47) * SECTOR, SECTOR);
  if (catalog[0] !== 1 || catalog[30] !== 0x55 || catalog[31] !== 0xaa) return [];
  const firmware = (p: number): BootEntry['firmware'] => (p === PLATFORM_BIOS ? 'bios' : p === PLATFORM_EFI ? 'uefi' : 'other');
  const entries: BootEntry[] = [];
  const entry = (at: number, platform: number) => {
    if (catalog[at] === 0x88) entries.push({ firmware: firmware(platform), offset: catalog.readUInt32LE(at + 8) * SECTOR });
  };
  entry(32, catalog[1]!);
  // Section headers (0x90, the last one 0x91), each followed by its entries.
  for (let at = 64; at + 32 <= catalog.length && (catalog[at] === 0x90 || catalog[at] === 0x91); ) {
    const platform = catalog[at + 1]!;
    const count = catalog.readUInt16LE(at + 2);
    for (let i = 1; i <= count; i++) entry(at + 32 * i, platform);
    const last = catalog[at] === 0x91;
    at += 32 * (count + 1);
    if (last) break;
  }
  return entries;
}

function extentOf(iso: string, path: string): IsoExtent {
  const e = findIsoFile(iso, path);
  if (!e) throw new BuildError(`${iso} has no /${path}; is it an iso-bios image from "keel build"?`);
  return e;
}

/** Where the initrd sits inside an iso-bios (for minimumMemoryMb). */
export function isoInitrd(iso: string): IsoExtent {
  return extentOf(iso, ISO_INITRD);
}

/** An iso-bios's kernel as a file of its own, for the KVM probe (kernel-cache.ts). */
export function isoProbeKernel(iso: string): string {
  const { offset, size } = extentOf(iso, ISO_KERNEL);
  const kernel = readAt(iso, offset, size);
  if (kernel.length !== size) throw new BuildError(`${iso} ends inside /${ISO_KERNEL}`);
  return cachedKernel(kernel);
}

// What `keel run` boots, and how it finds it: NAME (NAME-kernel,
// NAME-initrd.img, NAME-cmdline, else NAME.iso), or a file named directly,
// recognised by its contents: an ISO 9660 image, or a disk in one of the
// formats qemu reads (raw, qcow2, VHD, VHDX, VMDK).
import { closeSync, existsSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BuildError } from '../image/kernel.js';
import { readFdAt } from './read-at.js';

export type Image = KernelImage | IsoImage | DiskImage;

export interface KernelImage {
  format: 'kernel+initrd';
  name: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

export interface IsoImage {
  format: 'iso';
  name: string;
  iso: string;
}

/** qemu's block driver names; a fixed VHD is `vpc` too, though qemu's probe takes it for raw. */
export type DiskDriver = 'raw' | 'qcow2' | 'vpc' | 'vhdx' | 'vmdk';

export interface DiskImage {
  format: 'disk';
  name: string;
  path: string;
  driver: DiskDriver;
  /** A fixed VHD: the raw disk, then a 512-byte footer. */
  fixedVhd?: boolean;
}

/** What the file is, by its magic numbers; undefined if nothing keel run boots. */
export function recognise(path: string, name = path): IsoImage | DiskImage | undefined {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = readFdAt(fd, 0, 512);
    const text = (at: number, n: number) => head.toString('latin1', at, at + n);
    const disk = (driver: DiskDriver, fixedVhd = false): DiskImage => ({ format: 'disk', name, path, driver, ...(fixedVhd ? { fixedVhd } : {}) });
    if (readFdAt(fd, 0x8001, 5).toString('latin1') === 'CD001') return { format: 'iso', name, iso: path };
    if (text(0, 8) === 'vhdxfile') return disk('vhdx');
    if (text(0, 4) === 'QFI\xfb') return disk('qcow2');
    if (text(0, 4) === 'KDMV' || text(0, 21) === '# Disk DescriptorFile') return disk('vmdk');
    if (text(0, 8) === 'conectix') return disk('vpc'); // dynamic VHD: a copy of the footer first
    if (size >= 1024 && readFdAt(fd, size - 512, 8).toString('latin1') === 'conectix') return disk('vpc', true);
    if (head.length === 512 && head[510] === 0x55 && head[511] === 0xaa) return disk('raw'); // a partition table
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Finds the image for "NAME" or "DIR/NAME": NAME-kernel, NAME-initrd.img and
 * NAME-cmdline, else NAME.iso. A file given by its own name is an ISO or a
 * disk, whatever it is called.
 */
export function findImage(target: string): Image {
  const base = resolve(target);
  if (existsSync(base) && statSync(base).isFile()) {
    const found = recognise(base, target);
    if (!found) throw new BuildError(`${target} is not an image keel run boots: not an ISO, and not a disk (raw with a partition table, qcow2, VHD, VHDX or VMDK)`);
    return found;
  }
  const kernel = `${base}-kernel`;
  const initrd = `${base}-initrd.img`;
  const missing = [kernel, initrd].filter((p) => !existsSync(p));
  if (missing.length && existsSync(`${base}.iso`)) return { format: 'iso', name: target, iso: `${base}.iso` };
  // A name with a file's extension names that file: say it is not there, not what a kernel+initrd pair would be called.
  if (missing.length && /\.(iso|img|raw|qcow2|vhdx?|vmdk)$/i.test(target)) throw new BuildError(`no image ${target}: there is no such file`);
  if (missing.length) throw new BuildError(`no image ${target}: ${missing.join(' and ')} not found; build it with "keel build" (an ISO would be ${base}.iso; a disk is named by its file, e.g. ${target}-efi.img)`);
  const cmdFile = `${base}-cmdline`;
  const cmdline = existsSync(cmdFile) ? readFileSync(cmdFile, 'utf8').trim() : '';
  return { format: 'kernel+initrd', name: target, kernel, initrd, cmdline };
}

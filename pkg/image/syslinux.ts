// syslinux, the BIOS boot loader of keel's ISO (isolinux) and BIOS disks
// (syslinux on FAT): one config for both, and the install on a disk image
// file. syslinux's installer writes its ldlinux.sys and ldlinux.c32 through
// mtools into the FAT at an offset, so no loop device or mount is needed.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mtoolsEnv } from './fat.js';
import { BuildError } from './kernel.js';
import { imageCmdline } from './cmdline.js';

/** The MBR boot code that starts the active partition's boot sector (Debian syslinux-common). */
export const SYSLINUX_MBR = '/usr/lib/syslinux/mbr/mbr.bin';
export const SYSLINUX_PACKAGES = 'syslinux syslinux-common';
/** The boot code's share of the MBR; the disk signature and partition table follow it. */
const MBR_CODE_BYTES = 440;
/** Room for what `syslinux --install` adds to the file system (ldlinux.sys, ldlinux.c32). */
export const SYSLINUX_RESERVE = 256 * 1024;

/** syslinux.cfg / isolinux.cfg: SERIAL first, so the loader talks on ttyS0 from the start; no menu, no wait. */
export function syslinuxConfig(cmdline: string, kernel: string, initrd: string): string {
  return [
    'SERIAL 0 115200',
    'DEFAULT keel',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL keel',
    `  LINUX ${kernel}`,
    `  INITRD ${initrd}`,
    `  APPEND ${imageCmdline(cmdline)}`,
    '',
  ].join('\n');
}

/**
 * Makes the FAT file system at `offset` in `image` bootable by a BIOS: the
 * syslinux boot sector and ldlinux.sys in the file system, and syslinux's
 * MBR code (which starts the active partition) in the disk's first 440 bytes.
 */
export function installSyslinux(image: string, offset: number, epoch: number): void {
  if (!existsSync(SYSLINUX_MBR)) throw new BuildError(`${SYSLINUX_MBR} was not found; install it with "apt-get install ${SYSLINUX_PACKAGES}"`);
  const r = spawnSync('syslinux', ['--install', '--offset', String(offset), image], { encoding: 'utf8', env: mtoolsEnv(epoch) });
  if (r.error) throw new BuildError(`syslinux was not found (${r.error.message}); install it with "apt-get install ${SYSLINUX_PACKAGES}"`);
  if (r.status !== 0) throw new BuildError(`syslinux could not install on ${image}: ${(r.stderr || r.stdout).trim()}`);
  const code = readFileSync(SYSLINUX_MBR).subarray(0, MBR_CODE_BYTES);
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, code, 0, code.length, 0);
  } finally {
    closeSync(fd);
  }
}

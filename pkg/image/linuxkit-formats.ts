// LinuxKit's `build --format` values that keel does not build, each with the
// nearest format keel has: scripts written for linuxkit pass them, and a
// refusal that names the way forward helps more than the list of keel's own.
import type { OutputFormat } from './image.js';

interface Nearest {
  format: OutputFormat;
  /** How the nearest one differs, or what it is used with. */
  note: string;
}

const NEAREST: Readonly<Record<string, Nearest>> = {
  'tar-kernel-initrd': { format: 'kernel+initrd', note: 'the same kernel, initramfs and command line, as three files rather than one tar' },
  'iso-efi-initrd': { format: 'iso-efi', note: 'an ISO that boots the kernel and initramfs with UEFI' },
  'kernel+squashfs': { format: 'kernel+initrd', note: 'the root file system is in the initramfs' },
  'kernel+erofs': { format: 'kernel+initrd', note: 'the root file system is in the initramfs' },
  'kernel+iso': { format: 'kernel+initrd', note: 'the root file system is in the initramfs, not on an ISO' },
  'dynamic-vhd': { format: 'vhd', note: 'a fixed-size VHD' },
  rpi3: { format: 'kernel+initrd', note: 'with --arch arm64' },
  docker: { format: 'tar', note: 'the root file system, which "docker import" takes' },
};

/** Each such format, and what keel says when it is asked for. */
export function linuxkitOnlyFormats(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(NEAREST).map(([name, n]) => [name, `keel does not build LinuxKit's ${name} format; the nearest it has is ${n.format} (${n.note})`]),
  );
}

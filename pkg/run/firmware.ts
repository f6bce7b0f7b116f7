// UEFI for `keel run`: the firmware's code, read-only, and a fresh copy of
// its variable store in the VM's directory (UEFI writes boot entries
// there), both from Debian's ovmf package, as arch.ts names them.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { archBoot, type Arch } from '../image/arch.js';
import { BuildError } from '../image/kernel.js';

export interface UefiFiles {
  code: string;
  vars: string;
}

/** Copies the variable store template into `vmDir`; the code is used where it is installed. */
export function prepareUefi(vmDir: string, arch?: Arch): UefiFiles {
  const boot = archBoot(arch);
  const missing = [boot.uefiCode, boot.uefiVars].filter((f) => !existsSync(f));
  if (missing.length) throw new BuildError(`UEFI firmware ${missing.join(' and ')} not found; install it with "apt-get install ${boot.packages.uefi}"`);
  const vars = join(vmDir, 'efivars.fd');
  copyFileSync(boot.uefiVars, vars);
  return { code: boot.uefiCode, vars };
}

export function uefiArgs(files: UefiFiles): string[] {
  const file = (f: string) => f.replace(/,/g, ',,');
  return ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${file(files.code)}`, '-drive', `if=pflash,format=raw,unit=1,file=${file(files.vars)}`];
}

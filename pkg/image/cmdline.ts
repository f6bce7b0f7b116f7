// The kernel command line rule shared by `keel run` (-append) and every
// image that carries its own command line (boot loader configs, unified
// kernel images): the serial port is the console unless the manifest names one.
import { archBoot, type Arch } from './arch.js';
import { BuildError } from './kernel.js';

/** Adds console=ttyS0 (the architecture's serial port) when the command line names no console. */
export function withSerialConsole(cmdline: string, arch?: Arch): string {
  return /(^|\s)console=/.test(cmdline) ? cmdline.trim() : `${cmdline} console=${archBoot(arch).serialConsole}`.trim();
}

/** The command line an image boots with: the manifest's, one line, with the serial console rule applied. */
export function imageCmdline(cmdline: string, arch?: Arch): string {
  if (/[\r\n]/.test(cmdline)) throw new BuildError('the kernel command line (kernel.cmdline) must be one line');
  return withSerialConsole(cmdline, arch);
}

// The kernel command line rule shared by `keel run` (-append) and the
// iso-bios bootloader config: the serial port is the console unless the
// manifest names one.

/** Adds console=ttyS0 when the command line names no console. */
export function withSerialConsole(cmdline: string): string {
  return /(^|\s)console=/.test(cmdline) ? cmdline.trim() : `${cmdline} console=ttyS0`.trim();
}

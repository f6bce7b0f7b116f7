// Boots an image with qemu alone (no keel run), the way a user or a cloud
// would: TCG, the serial console on a pipe, QMP for the power button. Waits
// for keel's boot complete, checks the boot log, presses the power button
// and checks the clean power-off.
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { Qmp } from './qmp.js';
import { serial } from './serial.js';
import { ARCHES } from '../../pkg/image/arch.js';

/** How long the guest gets from the power button to qemu's exit. */
const POWEROFF_MS = 120_000;

export interface PlainBoot {
  /** What attaches the image (and the firmware, for UEFI). */
  args: string[];
  /** qemu's -name: unique to the test run. */
  name: string;
  qmpPath: string;
  hostname: string;
  /** The boot loader's banner, when it talks on the serial port. */
  loader?: RegExp;
}

export interface PlainBootTimes {
  /** From qemu's start: the loader's banner, and keel's boot complete. */
  loaderMs?: number;
  bootMs: number;
  /** keel's own figure: boot complete after kernel start. */
  sinceKernelMs: number;
}

export async function bootToPowerOff(boot: PlainBoot): Promise<PlainBootTimes> {
  const start = Date.now();
  const qemu = spawn(
    'qemu-system-x86_64',
    ['-name', boot.name, '-accel', 'tcg', '-cpu', ARCHES.amd64.tcgCpu, '-m', '1024', ...boot.args, '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-nic', 'none', '-no-reboot', '-qmp', `unix:${boot.qmpPath},server=on,wait=off`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tty = serial(qemu.stdout);
  qemu.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<number | null>((r) => qemu.on('exit', (code) => r(code)));
  try {
    let loaderMs: number | undefined;
    if (boot.loader) {
      await tty.waitFor(boot.loader, 120_000);
      loaderMs = Date.now() - start;
    }
    await tty.waitFor(/keel: boot complete \d+ ms after kernel start/, 300_000);
    const bootMs = Date.now() - start;
    const s = tty.text();
    expect(s).toMatch(/keel: keel \d+\.\d+\.\d+ starting as pid 1 \(machine mode\)/);
    expect(s).toContain(`keel: hostname ${boot.hostname}`);
    // None failed (a failure is said before the drivers left for after boot, whose devices this machine lacks).
    expect(s).toMatch(/keel: loaded \d+ kernel module\(s\)(; drivers for devices not here load after boot: [^;\r\n]*)?(; loaded when the kernel asks, else after boot: [^;\r\n]*)?\r?\n/);
    expect(s).not.toMatch(/Kernel panic/);
    const qmp = await Qmp.open(boot.qmpPath);
    await qmp.command('system_powerdown');
    qmp.close();
    // Bounded: a guest that never powers off fails here, and finally stops its qemu.
    const timer = new Promise<'still running'>((r) => setTimeout(() => r('still running'), POWEROFF_MS).unref());
    expect(await Promise.race([exited, timer]), `qemu's exit within ${POWEROFF_MS / 1000} s of the power button`).toBe(0);
    const down = tty.text();
    expect(down).toContain('keel: power button: poweroff');
    expect(down).toMatch(/keel: poweroff now \(shutdown took \d+ ms\)/);
    expect(down).toMatch(/reboot: Power down/);
    const sinceKernelMs = Number(/boot complete (\d+) ms after kernel start/.exec(s)![1]);
    return { ...(loaderMs !== undefined ? { loaderMs } : {}), bootMs, sinceKernelMs };
  } finally {
    qemu.kill('SIGTERM');
  }
}

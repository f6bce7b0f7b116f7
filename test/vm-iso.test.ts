// The iso-bios output boots on its own: plain qemu, the ISO as its only
// drive, isolinux and then keel on the serial console, and a clean power-off
// from the power button.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIsoBios } from '../pkg/image/iso.js';
import { requireDist } from './helpers/keel-ns.js';
import { Qmp } from './helpers/qmp.js';
import { serial } from './helpers/serial.js';
import { keelBuild } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-iso-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an iso-bios image', () => {
  it('boots with plain qemu from -cdrom, isolinux and keel on the serial port, and powers off on the power button', async () => {
    requireDist();
    // No console= here: the ISO's command line gets console=ttyS0, as keel run's -append does.
    writeFileSync(join(dir, 'isotest.yml'), 'kernel:\n  cmdline: "quiet"\nhostname: isotest\n');
    keelBuild(join(dir, 'isotest.yml'), dir);
    const iso = join(dir, 'isotest.iso');
    const cmdline = readFileSync(join(dir, 'isotest-cmdline'), 'utf8').trim();
    writeIsoBios({ kernel: join(dir, 'isotest-kernel'), initrd: join(dir, 'isotest-initrd.img'), cmdline, out: iso });
    const qmpPath = join(dir, 'qmp.sock');
    const start = Date.now();
    const qemu = spawn(
      'qemu-system-x86_64',
      ['-accel', 'tcg', '-cpu', 'max', '-m', '1024', '-cdrom', iso, '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-nic', 'none', '-no-reboot', '-qmp', `unix:${qmpPath},server=on,wait=off`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const tty = serial(qemu.stdout);
    qemu.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    const exited = new Promise<number | null>((r) => qemu.on('exit', (code) => r(code)));
    try {
      await tty.waitFor(/ISOLINUX \d/, 60_000); // the bootloader talks on the serial port
      const loader = Date.now() - start;
      await tty.waitFor(/keel: boot complete \d+ ms after kernel start/, 300_000);
      const booted = Date.now() - start;
      const s = tty.text();
      expect(s).toMatch(/keel: keel \d+\.\d+\.\d+ starting as pid 1 \(machine mode\)/);
      expect(s).toContain('keel: hostname isotest');
      expect(s).toMatch(/keel: loaded \d+ kernel module\(s\)\r?\n/);
      expect(s).not.toMatch(/Kernel panic/);
      const qmp = await Qmp.open(qmpPath);
      await qmp.command('system_powerdown');
      qmp.close();
      expect(await exited).toBe(0);
      const down = tty.text();
      expect(down).toContain('keel: power button: poweroff');
      expect(down).toMatch(/keel: poweroff now \(shutdown took \d+ ms\)/);
      expect(down).toMatch(/reboot: Power down/);
      const sinceKernel = Number(/boot complete (\d+) ms after kernel start/.exec(s)![1]);
      process.stdout.write(`iso-bios: ${statSync(iso).size} bytes; isolinux after ${loader} ms, boot complete after ${booted} ms (${sinceKernel} ms after kernel start), TCG\n`);
    } finally {
      qemu.kill('SIGTERM');
    }
  }, 420_000);
});

// The iso-bios output boots on its own: plain qemu, the ISO as its only
// drive, isolinux and then keel on the serial console, and a clean power-off
// from the power button. keel run boots it too, on its q35 machine, where the
// CD-ROM is a SATA drive.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIsoBios } from '../pkg/image/iso.js';
import { requireDist } from './helpers/keel-ns.js';
import { bootToPowerOff } from './helpers/plain-qemu.js';
import { bootVm, keelBuild } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-iso-'));
const iso = join(dir, 'isotest.iso');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  requireDist();
  // No console= here: the ISO's command line gets console=ttyS0, as keel run's -append does.
  writeFileSync(join(dir, 'isotest.yml'), 'kernel:\n  cmdline: "quiet"\nhostname: isotest\n');
  keelBuild(join(dir, 'isotest.yml'), dir);
  const cmdline = readFileSync(join(dir, 'isotest-cmdline'), 'utf8').trim();
  writeIsoBios({ kernel: join(dir, 'isotest-kernel'), initrd: join(dir, 'isotest-initrd.img'), cmdline, out: iso });
}, 300_000);

describe('an iso-bios image', () => {
  it('boots with plain qemu from -cdrom, isolinux and keel on the serial port, and powers off on the power button', async () => {
    const t = await bootToPowerOff({ name: `isotest-${process.pid}`, args: ['-cdrom', iso], qmpPath: join(dir, 'qmp.sock'), hostname: 'isotest', loader: /ISOLINUX \d/ });
    process.stdout.write(`iso-bios: ${statSync(iso).size} bytes; isolinux after ${t.loaderMs} ms, boot complete after ${t.bootMs} ms (${t.sinceKernelMs} ms after kernel start), TCG\n`);
  }, 420_000);

  it('boots under keel run from the q35 machine\'s SATA CD-ROM, whose drivers load at boot, and powers off on SIGTERM', async () => {
    const vm = bootVm(iso, join(dir, 'qmp-run.sock'));
    try {
      await vm.waitFor(/keel run: booting \S+ as VM \S+ with TCG[^\r\n]*, BIOS, amd64, q35 machine, /, 60_000);
      await vm.waitFor(/keel: boot complete \d+ ms after kernel start/, 300_000);
      // The ISO is on the SATA controller: keel run does not say it is empty, so ahci and the CD-ROM driver load at boot.
      const modules = /keel: loaded \d+ kernel module\(s\)[^\r\n]*/.exec(vm.screen())?.[0] ?? '';
      expect(modules, vm.screen()).toMatch(/drivers for devices not here load after boot: /);
      expect(modules).not.toMatch(/\b(ahci|sr_mod)\b/);
      vm.signal('SIGTERM');
      expect(await vm.exited).toBe(0);
      expect(vm.screen()).toMatch(/keel: poweroff now/);
    } finally {
      vm.stop();
    }
  }, 420_000);
});

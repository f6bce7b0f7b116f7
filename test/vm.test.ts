// A real boot: keel build makes an image with the pinned Debian kernel, keel
// run boots it under qemu, and the test reads the serial console. Ctrl-alt-del
// through QMP must make keel shut down and reboot; with --no-reboot qemu then
// exits by itself.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { Qmp } from './helpers/qmp.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a zero-container image boots in qemu', () => {
  it('prints its version and boot complete, then reboots cleanly on ctrl-alt-del', async () => {
    requireDist();
    writeFileSync(
      join(dir, 'vmtest.yml'),
      'kernel:\n  cmdline: "console=ttyS0 quiet"\nhostname: vmtest\nfiles:\n  - path: etc/motd\n    contents: hi\n',
    );
    const build = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', dir, join(dir, 'vmtest.yml')], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    expect(build.stdout).toMatch(/built vmtest/);

    const qmpPath = join(dir, 'qmp.sock');
    const vm = spawn(process.execPath, [join(DIST, 'keel.js'), 'run', '--mem', '1024', '--no-reboot', '--qmp', qmpPath, join(dir, 'vmtest')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let screen = '';
    vm.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    vm.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((r) => vm.on('exit', (code) => r(code)));
    const waitFor = async (pattern: RegExp, ms: number) => {
      const end = Date.now() + ms;
      while (!pattern.test(screen)) {
        if (Date.now() > end) throw new Error(`the console never showed ${pattern}:\n${screen}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor(/keel run: booting \S+ with (KVM|TCG)/, 30_000);
      await waitFor(/keel: boot complete \d+ ms after kernel start/, 240_000);
      expect(screen).toMatch(/keel: keel \d+\.\d+\.\d+ starting as pid 1 \(machine mode\)/);
      expect(screen).toContain('keel: hostname vmtest');
      expect(screen).toMatch(/keel: cgroup2 controllers enabled: .*memory/);
      expect(screen).not.toMatch(/Kernel panic/);

      const qmp = await Qmp.open(qmpPath);
      await qmp.sendKeys('ctrl', 'alt', 'delete');
      qmp.close();
      expect(await exited).toBe(0);
      expect(screen).toContain('keel: SIGINT: reboot');
      expect(screen).toMatch(/keel: reboot now \(shutdown took \d+ ms\)/);
      expect(screen).toMatch(/reboot: Restarting system/);
    } finally {
      vm.kill('SIGTERM'); // keel run passes it on to qemu
    }
  }, 360_000);
});

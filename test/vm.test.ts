// Real boots: keel build makes images with the pinned Debian kernel, keel run
// boots them under qemu, and the tests read the serial console.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configDriveIso } from './helpers/config-drive.js';
import { requireDist } from './helpers/keel-ns.js';
import { bootVm, keelBuild, positions } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const REPO = resolve(import.meta.dirname, '..');

/** The busybox root filesystem the demo's containers use, made as make run makes it. */
function demoRootfs(): string {
  const path = join(REPO, 'out/busybox-rootfs');
  const r = spawnSync(join(REPO, 'examples/make-rootfs.sh'), [path, 'keel-demo/busybox:1'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return path;
}

describe('a zero-container image', () => {
  it('prints its version and boot complete, then reboots cleanly on ctrl-alt-del', async () => {
    requireDist();
    // Two consoles. 8250 serves only one port as a kernel console, so /dev/console is ttyS1 here
    // and ttyS0 (this terminal) would hear nothing from init if keel did not write to it too.
    // The copy fallback, forced: keel.root=copy on the kernel command line makes keel-init skip the
    // move and copy the root into a tmpfs, then run itself again there; a real switch, no mock. (A
    // move that fails on its own cannot be provoked on this kernel: it is the same copy after an undo.)
    // The other VM tests take the default way, the move in place.
    writeFileSync(join(dir, 'vmtest.yml'), 'kernel:\n  cmdline: "console=ttyS1 console=ttyS0 quiet keel.root=copy"\nhostname: vmtest\nfiles:\n  - path: etc/motd\n    contents: hi\n');
    expect(keelBuild(join(dir, 'vmtest.yml'), dir)).toMatch(/built vmtest/);
    const second = join(dir, 'ttyS1.log');
    const vm = bootVm(join(dir, 'vmtest'), join(dir, 'qmp0.sock'), ['-serial', `file:${second}`]);
    try {
      await vm.waitFor(/keel run: booting \S+ as VM \S+ with (KVM|TCG)/, 30_000);
      await vm.waitFor(/keel: boot complete \d+ ms after kernel start/, 240_000);
      expect(vm.screen()).toMatch(/keel: keel \d+\.\d+\.\d+ starting as pid 1 \(machine mode\)/);
      expect(vm.screen()).toContain('keel: hostname vmtest');
      expect(vm.screen()).toMatch(/keel: cgroup2 controllers enabled: .*memory/);
      // None failed; this VM has no disk, so its driver waited until boot was complete, and then loaded.
      expect(vm.screen()).toMatch(/keel: loaded \d+ kernel module\(s\); drivers for devices not here load after boot: [^;\r\n]*\bvirtio_blk\b[^;\r\n]*(; loaded when the kernel asks, else after boot: [^;\r\n]*)?\r?\n/);
      // Hand-given qemu arguments could attach a drive to the machine's disk controller, so keel run does not say it
      // is empty, and its driver loads at boot (the demo's boot below is the other case).
      expect(vm.screen()).not.toMatch(/loads after boot: keel run attached no drive/);
      const modules = /keel: loaded \d+ kernel module\(s\)[^\r\n]*/.exec(vm.screen())?.[0] ?? '';
      expect(modules, vm.screen()).not.toMatch(/after boot: [^;\r\n]*\bahci\b/);
      expect(vm.screen()).toMatch(/keel: root copied out of the initramfs into a tmpfs in \d+ ms \(keel\.root=copy on the kernel command line\)/);
      const report = JSON.parse((await vm.keel('boot-report')).stdout) as { root?: { way: string }; timeline?: Record<string, number>; stages?: Array<{ name: string; ms: number }> };
      expect(report.root?.way).toBe('copied');
      // The keel-init that the copy ran again claimed /run/keel, without a word.
      expect(report.stages?.map((s) => s.name)).toContain('claim');
      expect(vm.screen()).not.toMatch(/claim the state directory|is running with the state directory/);
      const afterBoot = async () => (await vm.keel('events', '--json')).stdout.split('\n').some((l) => /loaded [1-9]\d* kernel module\(s\) after boot \(drivers for devices added since or behind an empty controller, features not asked for\)"/.test(l));
      for (const end = Date.now() + 60_000; !(await afterBoot()) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 1000));
      expect(await afterBoot()).toBe(true);
      expect(report.timeline?.unpackEndMs).toBeGreaterThan(report.timeline?.unpackStartMs ?? Infinity);
      expect(vm.screen()).not.toMatch(/Kernel panic/);
      expect(readFileSync(second, 'utf8')).not.toMatch(/Kernel panic/);
      const qmp = await vm.qmp();
      await qmp.sendKeys('ctrl', 'alt', 'delete');
      qmp.close();
      expect(await vm.exited).toBe(0);
      expect(vm.screen()).toContain('keel: SIGINT: reboot');
      expect(vm.screen()).toMatch(/keel: reboot now \(shutdown took \d+ ms\)/);
      const other = readFileSync(second, 'utf8'); // /dev/console: the kernel's lines are there
      expect(other).toMatch(/reboot: Restarting system/);
      expect(other).toMatch(/keel: boot complete \d+ ms after kernel start/);
      expect(other).toMatch(/keel: reboot now/);
      expect(vm.screen()).toContain('keel: also writing to console(s) ttyS0');
    } finally {
      vm.stop();
    }
  }, 360_000);
});

describe('feature modules in a VM', () => {
  it('leaves overlay, bridge and isofs for the kernel to ask for, and its requests load them through the modprobe helper', async () => {
    requireDist();
    const rootfs = demoRootfs();
    // Read-only roots only: keel itself mounts no overlay here, so only the entry's own mount and link ask for them.
    // (All capabilities: overlayfs checks the mounter's own, beyond CAP_SYS_ADMIN.)
    const steps = [
      'mount -t tmpfs t /tmp && mkdir /tmp/l /tmp/u /tmp/w /tmp/m',
      'mount -t overlay o -o lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w /tmp/m && echo overlay mounted',
      'ip link add kb0 type bridge && echo bridge made',
      "dmesg | grep -o \"module for the kernel's request: .*\"",
    ].join(' && ');
    writeFileSync(
      join(dir, 'features.yml'),
      `kernel:\n  cmdline: "console=ttyS0 quiet"\nonboot:\n  - name: features\n    image: ${rootfs}\n    readonly: true\n    capabilities: [all]\n    command: ["/bin/sh", "-c", ${JSON.stringify(steps)}]\n`,
    );
    expect(keelBuild(join(dir, 'features.yml'), dir)).toMatch(/built features/);
    // A cloud-init config drive on a virtio disk: keel-init's own mount of it asks for isofs.
    const seed = join(dir, 'seed');
    mkdirSync(seed);
    writeFileSync(join(seed, 'user-data'), 'hello from the config drive\n');
    writeFileSync(join(seed, 'meta-data'), 'instance-id: features\n');
    const iso = configDriveIso(seed, 'cidata', join(dir, 'seed.iso'));
    expect(iso.status, iso.stderr).toBe(0);
    const vm = bootVm(join(dir, 'features'), join(dir, 'qmp3.sock'), [], 1024, [`--disk=${join(dir, 'seed.iso')},format=raw`]);
    try {
      await vm.waitFor(/keel: boot complete \d+ ms after kernel start/, 240_000);
      const s = vm.screen();
      expect(s).toMatch(/keel: loaded \d+ kernel module\(s\)[^\r\n]*; loaded when the kernel asks, else after boot: [^;\r\n]*\boverlay\b/);
      expect(s).toMatch(/; loaded when the kernel asks, else after boot: [^;\r\n]*\bbridge\b/);
      expect(s).toContain('features | overlay mounted');
      expect(s).toContain('features | bridge made');
      expect(s).toContain("features | module for the kernel's request: fs-overlay");
      expect(s).toContain("features | module for the kernel's request: rtnl-link-bridge");
      expect(s).toMatch(/keel: instance data: 28 bytes from cidata \/dev\/vda in \/run\/config\/userdata/);
      expect(s).toContain("features | module for the kernel's request: fs-iso9660");
      expect(s).toContain('keel: onboot features exited 0');
      expect(s).not.toMatch(/Kernel panic/);
    } finally {
      vm.stop();
    }
  }, 360_000);
});

describe('the demo image (examples/demo.yml)', () => {
  it('runs onboot, starts services in dependency order, reports a crash loop and an OOM kill, sees its disk and NIC, answers over the control channel, and powers off cleanly on ctrl-c to keel run', async () => {
    requireDist();
    demoRootfs();
    keelBuild(join(REPO, 'examples/demo.yml'), dir);
    // A disk too, which keel run creates (raw, 16 MiB) and the guest sees as /dev/vda.
    const vm = bootVm(join(dir, 'demo'), join(dir, 'qmp1.sock'), [], 1024, [`--disk=${join(dir, 'data.img')},size=16M`]);
    try {
      await vm.waitFor(/keel: service web ready/, 300_000);
      await vm.waitFor(/keel: service hungry was killed by the OOM killer \(SIGKILL\)/, 120_000);
      await vm.waitFor(/keel: ERROR: service flaky failed: start limit reached/, 120_000);
      const s = vm.screen();
      expect(s).toMatch(/ network \| 2: eth0 +inet 10\.0\.2\.15\/24/); // the NIC keel run gives it, configured by onboot
      expect(s).toMatch(/keel: root moved out of the initramfs in place in \d+ ms \(nothing copied\)/);
      // Its disk and NIC were there at boot: their drivers loaded before onboot, not after.
      expect(s).toMatch(/keel: loaded \d+ kernel module\(s\)/);
      expect(s).not.toMatch(/drivers for devices not here load after boot: [^\r\n]*\bvirtio_(blk|net)\b/);
      // Its containers write to their roots: keel mounts overlays for them, so overlay loaded at boot.
      expect(s).not.toMatch(/loaded when the kernel asks, else after boot: [^\r\n]*\boverlay\b/);
      // keel run boots q35, attached nothing to its SATA controller and said so through fw_cfg: the SATA driver
      // waited until the services had settled (then loaded with the other waiting drivers: below).
      expect(s).toMatch(/keel run: booting \S+ as VM \S+ with [^\r\n]*, amd64, q35 machine, /);
      expect(s).toMatch(/keel: loaded \d+ kernel module\(s\)[^\r\n]*; ahci loads after boot: keel run attached no drive to the SATA controller/);
      const boot = positions(s, ['keel: onboot network exited 0', 'keel: boot complete', /keel: service db ready after \d+ ms/, /keel: service web ready after \d+ ms/]);
      expect(boot.every((p) => p >= 0), s).toBe(true);
      expect([...boot].sort((a, b) => a - b)).toEqual(boot);
      expect(s).toMatch(/service flaky exited 1 after \d+ ms; restarting in \d+ ms/);

      // The same story from the host, over the control channel (keel --vm NAME).
      const events = (await vm.keel('events', '--json')).stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message);
      const seen = positions(events.join('\n'), ['onboot network exited 0', 'boot complete', /service db ready after/, /service web ready after/]);
      expect(seen.every((p) => p >= 0), events.join('\n')).toBe(true);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
      const hungry = JSON.parse((await vm.keel('inspect', 'hungry')).stdout) as { exits: Array<{ oomKilled: boolean }> };
      expect(hungry.exits.some((e) => e.oomKilled)).toBe(true);
      const blocks = await vm.keel('exec', 'db', '/bin/ls', '/sys/block');
      expect(blocks.stdout, blocks.stderr).toMatch(/\bvda\b/);
      const afterBoot = async () => (await vm.keel('events', '--json')).stdout.split('\n').some((l) => /loaded [1-9]\d* kernel module\(s\) after boot/.test(l));
      for (const end = Date.now() + 120_000; !(await afterBoot()) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 1000));
      expect(await afterBoot()).toBe(true);
      const modules = await vm.keel('exec', 'db', '/bin/ls', '/sys/module');
      expect(modules.stdout, modules.stderr).toMatch(/^ahci$/m);
      // Kill web's process from inside its container: the supervisor restarts it (restart: always).
      // (The exec'd shell may die with the container it killed, so its own status says nothing.)
      await vm.keel('exec', 'web', '/bin/sh', '-c', 'kill 1');
      await vm.waitFor(/keel: service web exited 0 after \d+ ms; restarting/, 120_000);
      await vm.waitFor(/keel: service web ready after \d+ ms[\s\S]*keel: service web ready after \d+ ms/, 120_000);
      const web = (JSON.parse((await vm.keel('ps', '--json')).stdout) as Array<{ name: string; restarts: number }>).find((x) => x.name === 'web');
      expect(web?.restarts).toBe(1);


      // ctrl-c (SIGINT) to keel run: it presses the power button and waits for a clean power-off.
      vm.signal('SIGINT');
      expect(await vm.exited).toBe(0);
      const down = vm.screen();
      expect(down).toContain('keel run: SIGINT: powering the guest off');
      const order = positions(down, ['keel: power button: poweroff', 'keel: service web stopping', 'keel: service db stopping', '  goodbye | onshutdown: services are down, so long', 'keel: onshutdown goodbye exited 0', /keel: poweroff now \(shutdown took \d+ ms\)/]);
      expect(order.every((p) => p >= 0), down).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(down).toMatch(/reboot: Power down/); // the last kernel line: nothing after power-off was lost
    } finally {
      vm.stop();
    }
  }, 600_000);
});

describe('emergency mode in a VM', () => {
  it('shows why boot stopped, offers the prompt and a shell on the serial console, and powers off from there', async () => {
    requireDist();
    demoRootfs();
    writeFileSync(
      join(dir, 'broken.yml'),
      `kernel:\n  cmdline: "console=ttyS0 quiet"\nonboot:\n  - name: mount-data\n    image: ${join(REPO, 'out/busybox-rootfs')}\n    critical: true\n    command: ["/bin/sh", "-c", "echo no disk with label DATA; exit 32"]\n`,
    );
    keelBuild(join(dir, 'broken.yml'), dir);
    const vm = bootVm(join(dir, 'broken'), join(dir, 'qmp2.sock'));
    try {
      await vm.waitFor(/EMERGENCY: boot stopped: the critical onboot entry mount-data failed/, 300_000);
      await vm.waitFor(/it exited 32/, 10_000);
      expect(vm.screen()).toContain('| no disk with label DATA');
      vm.type('\r');
      await vm.waitFor(/keel> /, 30_000);
      vm.type('sh\r');
      await vm.waitFor(/BusyBox/, 30_000);
      vm.type('echo shell-$((6*7))\r');
      await vm.waitFor(/shell-42/, 30_000);
      vm.type('exit\r');
      await vm.waitFor(/sh exited/, 30_000);
      vm.type('poweroff\r');
      expect(await vm.exited).toBe(0);
      expect(vm.screen()).toMatch(/keel: poweroff now/);
    } finally {
      vm.stop();
    }
  }, 600_000);
});

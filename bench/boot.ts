// Boot: kernel start to all services ready under qemu (TCG here), for keel
// and for the floor: the same containers started by a busybox shell /init
// that calls `runc run` in order (bench/lib/floor.ts). keel's overhead is
// reported in ms and %. Both numbers come from the guest's own clock
// (/proc/uptime), so qemu's start-up on the host is not in them.
//
//   node bench/run.mjs boot [ROUNDS]
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureBusyboxRootfs } from './lib/busybox-rootfs.js';
import { runBench, track } from './lib/cleanup.js';
import { buildFloor, FLOOR_DONE, FLOOR_INIT } from './lib/floor.js';
import { machine, metric, REPO, writeResult } from './lib/results.js';
import { median, r1, table } from './lib/stats.js';
import { bootUntil, type Boot } from './lib/vm-boot.js';
import { DIST } from '../test/helpers/keel-ns.js';

const ROUNDS = Number(process.argv[2] ?? 2);
const FIXTURE = join(REPO, 'bench/fixtures/services.yml');
const KEEL_DONE = /all (\d+) service\(s\) ready (\d+) ms after keel started \((\d+) ms after kernel start\)/;
const BOOT_COMPLETE = /boot complete (\d+) ms after kernel start/;
// keel's console lines carry no time; each one's guest time is estimated from
// when it reached the host, counted back from the last line, which has one.
const MILESTONES: Record<string, RegExp> = {
  'keel-init starts (after the tmpfs switch)': /keel \S+ starting as pid 1/,
  'runc found': /keel: runc \d/,
  'onboot done': /onboot network exited/,
};

function milestones(r: Boot, guestEndMs: number): Record<string, number> {
  const end = r.lines.find((l) => KEEL_DONE.test(l.text))?.atMs ?? r.wallMs;
  const out: Record<string, number> = {};
  for (const [name, re] of Object.entries(MILESTONES)) {
    const l = r.lines.find((x) => re.test(x.text));
    if (l) out[name] = Math.round(guestEndMs - (end - l.atMs));
  }
  return out;
}

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  ensureBusyboxRootfs();
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-boot-'));
  track(() => rmSync(dir, { recursive: true, force: true }));
  const b = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', dir, '--name', 'keel', FIXTURE], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`keel build ${FIXTURE} failed:\n${b.stderr}`);
  const floor = buildFloor(FIXTURE);
  copyFileSync(join(dir, 'keel-kernel'), join(dir, 'floor-kernel'));
  writeFileSync(join(dir, 'floor-initrd.img'), floor.gzip);
  writeFileSync(join(dir, 'floor-cmdline'), floor.cmdline + '\n');

  const keel: Array<{ readyMs: number; bootCompleteMs: number; wallMs: number; milestones: Record<string, number> }> = [];
  const base: Array<{ readyMs: number; initMs: number; wallMs: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first, so a burst of load on the shared machine does not always hit the same one.
    const order = i % 2 === 0 ? ['keel', 'floor'] : ['floor', 'keel'];
    for (const who of order) {
      if (who === 'keel') {
        const r = await bootUntil(join(dir, 'keel'), KEEL_DONE, 150_000);
        keel.push({ readyMs: Number(r.match[3]), bootCompleteMs: Number(BOOT_COMPLETE.exec(r.screen)?.[1] ?? NaN), wallMs: r.wallMs, milestones: milestones(r, Number(r.match[3])) });
      } else {
        const r = await bootUntil(join(dir, 'floor'), FLOOR_DONE, 150_000);
        base.push({ readyMs: Math.round(Number(r.match[2]) * 1000), initMs: Math.round(Number(FLOOR_INIT.exec(r.screen)?.[1] ?? NaN) * 1000), wallMs: r.wallMs });
      }
      console.log(`round ${i + 1}: ${who} ${who === 'keel' ? keel.at(-1)!.readyMs : base.at(-1)!.readyMs} ms`);
    }
  }
  const k = median(keel.map((x) => x.readyMs));
  const f = median(base.map((x) => x.readyMs));
  const rows = [
    [`boot under qemu ${'TCG'}: kernel start → all services ready (ms), ${ROUNDS} round(s)`, 'median', 'runs'],
    ['keel', String(k), keel.map((x) => x.readyMs).join(' ')],
    ['floor (busybox sh /init + runc run)', String(f), base.map((x) => x.readyMs).join(' ')],
    ['keel: of which "boot complete" (before services)', String(median(keel.map((x) => x.bootCompleteMs))), keel.map((x) => x.bootCompleteMs).join(' ')],
    ...Object.keys(MILESTONES).map((name) => [`keel: ${name} (≈, from console arrival times)`, String(median(keel.map((x) => x.milestones[name] ?? NaN))), keel.map((x) => x.milestones[name] ?? '–').join(' ')]),
    ['floor: of which the kernel, until /init runs', String(median(base.map((x) => x.initMs))), base.map((x) => x.initMs).join(' ')],
  ];
  console.log('\n' + table(rows));
  console.log(`keel overhead: ${k - f} ms (${r1(((k - f) / f) * 100)} %)`);
  writeResult({
    bench: 'boot',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      os: 'bench/fixtures/services.yml: onboot network (ip link set lo up), then 4 services (web after db), read-only busybox roots',
      keel: 'keel build of the fixture; "all 4 service(s) ready … (N ms after kernel start)" on the console',
      floor: 'same kernel and cmdline; initramfs of busybox, runc + libraries, and the bundles of keel\'s own OCI specs; /init copies itself to a tmpfs, switch_root, mounts proc/sys/dev/run/tmp/cgroup2, runc run the onboot entry, runc run -d each service, prints /proc/uptime',
      qemu: 'keel run --mem 1024 --no-reboot (the same qemu arguments for both); TCG, 2 host cores shared with other work',
    },
    metrics: [metric('boot', 'Boot: kernel start → all services ready', 'ms', k, { 'floor (sh + runc run)': f })],
    notes: [`keel overhead ${k - f} ms (${r1(((k - f) / f) * 100)} %)`],
    raw: { keel, floor: base, keelInitrdBytes: b.stdout.trim(), floorInitrdBytes: floor.gzip.length },
  });
}

runBench(main);

// Boot: kernel start to all services ready under qemu (TCG here), for keel
// and for the floor: the same containers started by a busybox shell /init
// that calls `runc run` in order (bench/lib/floor.ts). Point by point, both
// from the guest's own clock (ms since kernel start): the kernel's unpacking
// of the initramfs (its log), init's first line, machine set-up done, runc
// ready, onboot done, all services ready. keel's points come from its boot
// report over the control channel; the floor's script prints its own. Then
// keel's image built with each --compress, booted once each, for the
// kernel's unpack time of each. Last, both again on 2 vCPUs, for all
// services ready only: the 1-vCPU rounds are the comparison the target is
// set on, the 2-vCPU ones show what a machine with a second CPU changes
// (keel loads modules and starts services concurrently; the floor's script
// runs one thing at a time).
//
//   node bench/run.mjs boot [ROUNDS]
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { BootTimeline } from '../api/wire.js';
import { COMPRESSIONS, DEFAULT_COMPRESSION, type Compression } from '../pkg/image/initrd.js';
import { ensureBusyboxRootfs } from './lib/busybox-rootfs.js';
import { runBench, track } from './lib/cleanup.js';
import { buildFloor, FLOOR_DONE, FLOOR_FAILED, FLOOR_INIT, FLOOR_INIT_RUN, FLOOR_ONBOOT, FLOOR_SETUP, FLOOR_UNPACK_END, FLOOR_UNPACK_START } from './lib/floor.js';
import { machine, metric, REPO, writeResult, type Metric } from './lib/results.js';
import { median, r1, table } from './lib/stats.js';
import { bootUntil } from './lib/vm-boot.js';
import { DIST } from '../test/helpers/keel-ns.js';

// Three by default: one boot of the same image differs from the next by a second or more on these shared hosts.
const ROUNDS = Number(process.argv[2] ?? 3);
const FIXTURE = join(REPO, 'bench/fixtures/services.yml');
const KEEL_DONE = /all (\d+) service\(s\) ready (\d+) ms after keel started \((\d+) ms after kernel start\)/;
const KEEL_RSS = /boot complete \d+ ms after kernel start \(keel-init rss ([\d.]+) MiB\)/;
const TIMEOUT_MS = 300_000;
/** keel-init's line on how /init compiled it (init/boot/code-cache.ts). */
const KEEL_CODE_CACHE = /(code cache|no code cache)[^\r\n]*/;

/** The points compared, in boot order: keel's timeline field, the floor's line, and what the point is. */
const POINTS: ReadonlyArray<{ id: string; label: string; keel: keyof BootTimeline; floor: RegExp }> = [
  { id: 'unpacked', label: 'kernel has unpacked the initramfs', keel: 'unpackEndMs', floor: FLOOR_UNPACK_END },
  { id: 'init-run', label: 'kernel runs /init', keel: 'initRunMs', floor: FLOOR_INIT_RUN },
  { id: 'first-line', label: "init's first line (keel-init; the floor's /init)", keel: 'keelStartMs', floor: FLOOR_INIT },
  { id: 'machine', label: 'machine set-up done', keel: 'machineReadyMs', floor: FLOOR_SETUP },
  { id: 'runc', label: 'runc ready (the floor: set-up done)', keel: 'runcReadyMs', floor: FLOOR_SETUP },
  { id: 'onboot', label: 'onboot done', keel: 'onbootDoneMs', floor: FLOOR_ONBOOT },
  { id: 'ready', label: 'all services ready', keel: 'servicesReadyMs', floor: FLOOR_DONE },
];

type Points = Record<string, number> & { unpackMs: number };

const seconds = (re: RegExp, screen: string): number => {
  const m = re.exec(screen);
  return m ? Math.round(Number(m[m.length - 1]) * 1000) : NaN;
};

type KeelPoints = Points & { rssMiB: number; root: string; codeCache: string; keelCpuMs: number; vmBusyMs: number };

async function bootKeel(image: string, cpus = 1): Promise<KeelPoints> {
  const r = await bootUntil(image, KEEL_DONE, TIMEOUT_MS, { report: true, cpus });
  const t = r.report?.timeline ?? {};
  const points = Object.fromEntries(POINTS.map((p) => [p.id, t[p.keel] ?? NaN]));
  const codeCache = KEEL_CODE_CACHE.exec(r.screen)?.[0] ?? 'no code cache line';
  const cpu = r.report?.cpuAtReady;
  return {
    ...points,
    unpackMs: (t.unpackEndMs ?? NaN) - (t.unpackStartMs ?? NaN),
    rssMiB: Number(KEEL_RSS.exec(r.screen)?.[1] ?? NaN),
    root: r.report?.root?.way ?? '?',
    codeCache,
    keelCpuMs: cpu?.keelInitMs ?? NaN,
    vmBusyMs: cpu?.machineBusyMs ?? NaN,
  } as KeelPoints;
}

async function bootFloor(image: string, cpus = 1): Promise<Points> {
  // The kernel's lines come last, in its log's order: "Run /init" is the last of them.
  const r = await bootUntil(image, FLOOR_INIT_RUN, TIMEOUT_MS, { cpus });
  if (FLOOR_FAILED.test(r.screen)) throw new Error(`the floor did not run its containers:\n${r.screen.slice(-3000)}`);
  const points = Object.fromEntries(POINTS.map((p) => [p.id, seconds(p.floor, r.screen)]));
  return { ...points, unpackMs: seconds(FLOOR_UNPACK_END, r.screen) - seconds(FLOOR_UNPACK_START, r.screen) } as Points;
}

function build(dir: string, name: string, compression: Compression): string {
  const b = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', dir, '--name', name, '--compress', compression, FIXTURE], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`keel build ${FIXTURE} failed:\n${b.stderr}`);
  return b.stdout.trim();
}

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  ensureBusyboxRootfs();
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-boot-'));
  track(() => rmSync(dir, { recursive: true, force: true }));
  const built = Object.fromEntries(COMPRESSIONS.map((c) => [c, build(dir, `keel-${c}`, c)]));
  const floor = await buildFloor(FIXTURE);
  copyFileSync(join(dir, `keel-${DEFAULT_COMPRESSION}-kernel`), join(dir, 'floor-kernel'));
  writeFileSync(join(dir, 'floor-initrd.img'), floor.initrd);
  writeFileSync(join(dir, 'floor-cmdline'), floor.cmdline + '\n');

  const hung: string[] = [];
  /**
   * One boot, and once more if the guest hung: under multi-threaded TCG a guest's vCPUs have been seen to lock
   * up in the kernel for good (the floor's, both in runc: "soft lockup - CPU#0 stuck for 105s"). That is
   * qemu's or the kernel's fault, not a time to compare, so it is said in the notes and the round is booted again.
   */
  const boot = async <T>(what: string, cpus: number, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      const message = (err as Error).message;
      if (!/the console never showed/.test(message)) throw err;
      const lockup = /soft lockup[^\r\n]*/.exec(message)?.[0] ?? message.split('\n')[0]!;
      hung.push(`${what} on ${cpus} vCPU(s) hung (${lockup}) and was booted again`);
      console.log(`${what}, ${cpus} vCPU: hung (${lockup}); booting it again`);
      return f();
    }
  };
  const rounds = async (cpus: number) => {
    const keel: Array<Awaited<ReturnType<typeof bootKeel>>> = [];
    const base: Points[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so a burst of load on the shared machine does not always hit the same one.
      for (const who of i % 2 === 0 ? ['keel', 'floor'] : ['floor', 'keel']) {
        if (who === 'keel') keel.push(await boot('keel', cpus, () => bootKeel(join(dir, `keel-${DEFAULT_COMPRESSION}`), cpus)));
        else base.push(await boot('the floor', cpus, () => bootFloor(join(dir, 'floor'), cpus)));
        console.log(`round ${i + 1}, ${cpus} vCPU: ${who} ${(who === 'keel' ? keel.at(-1)! : base.at(-1)!).ready} ms`);
      }
    }
    return { keel, base };
  };
  const { keel, base } = await rounds(1);
  // The other compressions, once each: only the kernel's unpacking differs.
  const unpack: Record<string, number[]> = { [DEFAULT_COMPRESSION]: keel.map((k) => k.unpackMs) };
  for (const c of COMPRESSIONS.filter((x) => x !== DEFAULT_COMPRESSION)) unpack[c] = [(await bootKeel(join(dir, `keel-${c}`))).unpackMs];
  const two = await rounds(2);

  const med = (xs: Points[], id: string) => median(xs.map((x) => x[id]!));
  const rows = [[`boot under qemu TCG, ms after kernel start, ${ROUNDS} round(s)`, 'keel', 'floor', 'keel - floor', 'keel runs', 'floor runs']];
  for (const p of POINTS) rows.push([p.label, String(med(keel, p.id)), String(med(base, p.id)), String(med(keel, p.id) - med(base, p.id)), keel.map((x) => x[p.id]).join(' '), base.map((x) => x[p.id]).join(' ')]);
  const startup = (x: Points) => x['first-line']! - x['init-run']!;
  const su = { keel: keel.map(startup), floor: base.map(startup) };
  rows.push(["init's start-up: kernel runs /init → first line (ms)", String(median(su.keel)), String(median(su.floor)), String(median(su.keel) - median(su.floor)), su.keel.join(' '), su.floor.join(' ')]);
  rows.push(['all services ready on 2 vCPUs', String(med(two.keel, 'ready')), String(med(two.base, 'ready')), String(med(two.keel, 'ready') - med(two.base, 'ready')), two.keel.map((x) => x.ready).join(' '), two.base.map((x) => x.ready).join(' ')]);
  rows.push(['kernel unpack time (ms)', String(med(keel, 'unpackMs')), String(med(base, 'unpackMs')), '', keel.map((x) => x.unpackMs).join(' '), base.map((x) => x.unpackMs).join(' ')]);
  console.log('\n' + table(rows));
  console.log(`keel's initrd unpack time by compression (ms): ${Object.entries(unpack).map(([c, v]) => `${c} ${v.join(' ')}`).join('; ')}`);
  const k = med(keel, 'ready');
  const f = med(base, 'ready');
  console.log(`keel overhead: ${k - f} ms (${r1(((k - f) / f) * 100)} %); root ${keel.map((x) => x.root).join(' ')}; keel-init rss at boot complete ${keel.map((x) => x.rssMiB).join(' ')} MiB`);

  const metrics: Metric[] = [
    metric('boot', 'Boot: kernel start → all services ready', 'ms', k, { 'floor (sh + runc run)': f }),
    ...POINTS.filter((p) => p.id !== 'ready').map((p) => metric(`boot-${p.id}`, `Boot: ${p.label}`, 'ms', med(keel, p.id), { floor: med(base, p.id) })),
    metric('boot-unpack', `Boot: kernel unpack of the initramfs (keel ${DEFAULT_COMPRESSION})`, 'ms', median(unpack[DEFAULT_COMPRESSION]!), {
      'floor (same compression)': med(base, 'unpackMs'),
      ...Object.fromEntries(COMPRESSIONS.filter((c) => c !== DEFAULT_COMPRESSION).map((c) => [`keel ${c}`, median(unpack[c]!)])),
    }),
    metric('boot-init-startup', "Boot: init's start-up, kernel runs /init → first line (keel: node, the bundle from its code cache, what keel-init loads before its first line)", 'ms', median(su.keel), { floor: median(su.floor) }),
    metric('boot-2cpu', 'Boot on 2 vCPUs: kernel start → all services ready', 'ms', med(two.keel, 'ready'), { 'floor (sh + runc run)': med(two.base, 'ready') }),
    metric('boot-rss', 'keel-init RSS at boot complete (VM)', 'MiB', median(keel.map((x) => x.rssMiB)), {}),
  ];
  writeResult({
    bench: 'boot',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      os: 'bench/fixtures/services.yml: onboot network (ip link set lo up), then 4 services (web after db), read-only busybox roots',
      keel: `keel build of the fixture (--compress ${DEFAULT_COMPRESSION}, the default; ${COMPRESSIONS.filter((c) => c !== DEFAULT_COMPRESSION).join(' and ')} booted once each for their unpack time); points from keel's boot report (GET /v1/boot over the VM channel)`,
      floor: `same kernel and cmdline; initramfs (zstd: what ${DEFAULT_COMPRESSION} makes of a root without node) of busybox, runc + libraries, and the bundles of keel's own OCI specs; /init moves the root out of the initramfs as keel does (bind, move, chroot), mounts proc/sys/dev/run/tmp/cgroup2, runc run the onboot entry, runc run -d each service, printing /proc/uptime at each point and the kernel's unpack lines from dmesg`,
      qemu: 'keel run --mem 1024 --no-reboot (the same qemu arguments for both, on q35, the default machine of keel run); TCG, 1 vCPU (boot-2cpu: --cpus 2), 2 host cores shared with other work',
    },
    metrics,
    notes: [
      `keel overhead ${k - f} ms (${r1(((k - f) / f) * 100)} %)`,
      `root: ${keel.map((x) => x.root).join(', ')}`,
      `CPU until all services ready (median): keel-init ${med(keel, 'keelCpuMs')} ms (node's start-up included) of the VM's ${med(keel, 'vmBusyMs')} ms busy`,
      ...hung,
    ],
    raw: { keel, floor: base, keel2cpu: two.keel, floor2cpu: two.base, unpackByCompression: unpack, built, floorInitrdBytes: floor.initrd.length },
  });
}

runBench(main);

// Supervisor memory: total RSS (and PSS) of the processes that supervise 1,
// 20 and 100 idle containers (`sleep 100000`, read-only busybox root, host
// network), for keel-init, for containerd + one containerd-shim-runc-v2 per
// container (LinuxKit's model, `ctr`), and for dockerd + its containerd +
// shims. Also keel-init's idle CPU time.
//
//   node bench/run.mjs memory
//
// keel-init is started fresh for each count; the anchors grow from 1 to 20 to
// 100 containers. The container processes themselves are not counted, only
// their supervisors: keel leaves no process behind per container.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../test/helpers/rootfs.js';
import { runBench, sleep, track } from './lib/cleanup.js';
import { containerdInstalled, shimsOf, startContainerd } from './lib/containerd.js';
import { dockerAsync, ensureDockerd, importImage, IMAGE, removeContainers } from './lib/docker.js';
import { lastOutput, launchKeel, serviceYaml } from './lib/keel.js';
import { allPids, argv, childrenOf, pssKiB, readOr, rssKiB, schedMs, sleepersUnder } from './lib/proc.js';
import { machine, metric, writeResult } from './lib/results.js';
import { r1, r2, table } from './lib/stats.js';

const COUNTS = [1, 20, 100] as const;
const SETTLE_MS = 3000;
const CPU_WINDOW_S = 5;
const PARALLEL = 4;

interface Sample {
  services: number;
  rssKiB: number;
  pssKiB: number;
  processes: number;
}

function measure(services: number, pids: number[]): Sample {
  return { services, rssKiB: pids.reduce((s, p) => s + rssKiB(p), 0), pssKiB: pids.reduce((s, p) => s + pssKiB(p), 0), processes: pids.length };
}

/** Runs `start(i)` for i in [from, to) with PARALLEL at a time. */
async function startMany(from: number, to: number, start: (i: number) => Promise<unknown>): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) await start(next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

async function keelAt(count: number, rootfs: string): Promise<Sample & { cpuMsPerS: number; readyMs: number }> {
  const names = Array.from({ length: count }, (_, i) => `idle-${String(i).padStart(3, '0')}`);
  const t0 = Date.now();
  const { keel, stop } = launchKeel('services:\n' + names.map((n) => serviceYaml(n, rootfs, ['stopSignal: SIGKILL'])).join(''));
  await keel.waitFor(new RegExp(`all ${count} service\\(s\\) ready`), 180_000);
  const readyMs = Date.now() - t0;
  const pid = keel.hostPid();
  await sleep(SETTLE_MS);
  if (sleepersUnder(pid).length !== count) throw new Error(`keel runs ${sleepersUnder(pid).length} of ${count} services`);
  const s = measure(count, [pid]);
  const c0 = schedMs(pid);
  await sleep(CPU_WINDOW_S * 1000);
  const cpuMsPerS = r2((schedMs(pid) - c0) / CPU_WINDOW_S);
  const shutdown = await stop();
  if (shutdown === 'killed' || shutdown.code !== 0) console.log(`note: keel with ${count} services shut down with ${JSON.stringify(shutdown)}`);
  return { ...s, cpuMsPerS, readyMs };
}

/** dockerd's pid and the containerd it talks to (its own child, or the system's). */
function dockerDaemons(): { dockerd: number; containerd: number; address: string } {
  const dockerd = Number(readOr('/var/run/docker.pid').trim()) || allPids().find((p) => /(^|\/)dockerd$/.test(argv(p)[0] ?? ''))!;
  const own = childrenOf(dockerd).find((p) => /(^|\/)containerd$/.test(argv(p)[0] ?? ''));
  if (own !== undefined) {
    const cfg = argv(own)[argv(own).indexOf('--config') + 1] ?? '';
    const address = /address\s*=\s*"([^"]+containerd\.sock)"/.exec(readOr(cfg))?.[1] ?? '/var/run/docker/containerd/containerd.sock';
    return { dockerd, containerd: own, address };
  }
  const sys = allPids().find((p) => /(^|\/)containerd$/.test(argv(p)[0] ?? '') && argv(p).length === 1);
  return { dockerd, containerd: sys ?? 0, address: '/run/containerd/containerd.sock' };
}

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  const base = mkdtempSync(join(tmpdir(), 'keel-bench-memory-'));
  chmodSync(base, 0o711);
  track(() => rmSync(base, { recursive: true, force: true }));
  const rootfs = busyboxRootfs(join(base, 'rootfs'));
  const notes: string[] = [];
  const keel: Array<Awaited<ReturnType<typeof keelAt>>> = [];
  const ctrd: Sample[] = [];
  const dock: Sample[] = [];

  const ctrdUp = containerdInstalled() ? await startContainerd(join(base, 'containerd')) : undefined;
  if (!ctrdUp) notes.push('containerd skipped: containerd, ctr or containerd-shim-runc-v2 is not installed (apt-get install containerd)');
  const whyNot = await ensureDockerd(base);
  if (whyNot) notes.push(`docker skipped: ${whyNot}`);
  const dockerIds: string[] = [];
  if (!whyNot) {
    importImage(rootfs);
    track(() => removeContainers(dockerIds));
  }

  let have = 0;
  for (const count of COUNTS) {
    keel.push(await keelAt(count, rootfs));
    if (ctrdUp) {
      await startMany(have, count, (i) => ctrdUp.run(`idle-${i}`, rootfs));
      await sleep(SETTLE_MS);
      ctrd.push(measure(count, ctrdUp.pids()));
    }
    if (!whyNot) {
      await startMany(have, count, async (i) => {
        const name = `keel-bench-idle-${i}`;
        dockerIds.push(name);
        dockerIds[dockerIds.length - 1] = await dockerAsync('run', '-d', '--network', 'host', '--read-only', '--name', name, IMAGE, '/bin/sleep', '100000');
      });
      await sleep(SETTLE_MS);
      const d = dockerDaemons();
      const ours = new Set(dockerIds);
      dock.push(measure(count, [d.dockerd, d.containerd, ...shimsOf(d.address, (id) => ours.has(id))].filter((p) => p > 0)));
    }
    have = count;
    console.log(`${count} services measured`);
  }

  const mib = (k: number) => r1(k / 1024);
  const rows: string[][] = [['supervisor memory, idle services', 'services', 'processes', 'RSS MiB', 'PSS MiB', 'keel/this RSS']];
  const add = (name: string, xs: Sample[]) => {
    for (const s of xs) {
      const k = keel.find((x) => x.services === s.services)!;
      rows.push([name, String(s.services), String(s.processes), mib(s.rssKiB).toFixed(1), mib(s.pssKiB).toFixed(1), (k.rssKiB / s.rssKiB).toFixed(2)]);
    }
  };
  add('keel-init', keel);
  add('containerd + shims', ctrd);
  add('dockerd + containerd + shims', dock);
  console.log('\n' + table(rows));
  const perService = (xs: Sample[]) => (xs.length === COUNTS.length ? r1((xs.at(-1)!.rssKiB - xs[0]!.rssKiB) / (COUNTS.at(-1)! - COUNTS[0]!)) : NaN);
  console.log(`RSS per added service (KiB): keel ${perService(keel)}, containerd ${perService(ctrd)}, docker ${perService(dock)}`);
  console.log(`keel-init idle CPU (ms per s): ${keel.map((k) => `${k.services} services ${k.cpuMsPerS}`).join(', ')}`);

  const byCount = (xs: Sample[], n: number) => mib(xs.find((x) => x.services === n)?.rssKiB ?? NaN);
  writeResult({
    bench: 'memory',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      service: 'busybox /bin/sleep 100000, read-only root, host network',
      keel: 'dist/keel-init.js as PID 1 of a PID namespace, fresh for each count; VmRSS of keel-init (no process per container)',
      containerd: 'a private containerd (root, state and socket in a temp dir, CRI plugin off); ctr run -d --rootfs --read-only --net-host --null-io; containerd + its containerd-shim-runc-v2 processes',
      docker: 'the running dockerd (20.10) + its containerd + the shims of our containers; docker run -d --network host --read-only of the same root (docker import)',
      measure: `after ${SETTLE_MS / 1000} s settled; RSS sums count shared pages once per process, PSS divides them`,
    },
    metrics: COUNTS.map((n) =>
      metric(`memory-${n}`, `Supervisor RSS, ${n} idle service${n > 1 ? 's' : ''}`, 'MiB', byCount(keel, n), { 'containerd + shims': byCount(ctrd, n), 'dockerd + containerd + shims': byCount(dock, n) }),
    ),
    notes: [...notes, `RSS per added service (KiB): keel ${perService(keel)}, containerd ${perService(ctrd)}, docker ${perService(dock)}`],
    raw: { keel, containerd: ctrd, docker: dock },
  });
}

runBench(main, () => console.error(`keel printed:\n${lastOutput()}`));

// Flood: a service that writes without newlines (`cat /dev/zero`) for 60 s,
// and what it costs keel-init: its RSS against its own idle RSS (the anchor),
// and how long `keel ps` takes during the flood against the same call idle.
// Targets (issue 13): RSS within 64 MiB of idle; `keel ps` within 2x of idle.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST } from '../test/helpers/keel-ns.js';
import { busyboxRootfs } from '../test/helpers/rootfs.js';
import { runBench, sleep, track } from './lib/cleanup.js';
import { launchKeel, lastOutput, serviceYaml, type KeelNs } from './lib/keel.js';
import { machine, metric, writeResult } from './lib/results.js';
import { median, r1, table } from './lib/stats.js';

const FLOOD_S = Number(process.argv[2] ?? 60);
const PS_ROUNDS = 15;

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** Milliseconds of one `keel ps`, the whole CLI round trip. */
function psMs(k: KeelNs): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'ps'], { env: { ...process.env, KEEL_SOCKET: join(k.dir, 'state', 'keel.sock') }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`keel ps failed: ${r.stderr}`);
  return performance.now() - t0;
}

async function psMedian(k: KeelNs): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < PS_ROUNDS; i++) {
    xs.push(psMs(k));
    await sleep(200);
  }
  return median(xs);
}

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  const base = mkdtempSync(join(tmpdir(), 'keel-bench-flood-'));
  chmodSync(base, 0o711);
  track(() => rmSync(base, { recursive: true, force: true }));
  const rootfs = busyboxRootfs(join(base, 'rootfs'));
  const flood = [`  - name: flood`, `    image: ${rootfs}`, '    readonly: true', '    command: ["/bin/cat", "/dev/zero"]', '    stopSignal: SIGKILL'].join('\n') + '\n';
  const { keel, stop } = launchKeel('services:\n' + serviceYaml('idle', rootfs) + flood);
  await keel.waitFor(/all 2 service\(s\) ready/, 60_000);
  const pid = keel.hostPid();
  // Idle: the flood service is stopped, keel settled.
  spawnSync(process.execPath, [join(DIST, 'keel.js'), 'stop', '--wait', 'flood'], { env: { ...process.env, KEEL_SOCKET: join(keel.dir, 'state', 'keel.sock') } });
  await sleep(3000);
  const idleRss = rssMiB(pid);
  const idlePs = await psMedian(keel);
  spawnSync(process.execPath, [join(DIST, 'keel.js'), 'start', '--wait', 'flood'], { env: { ...process.env, KEEL_SOCKET: join(keel.dir, 'state', 'keel.sock') } });
  let peakRss = idleRss;
  const floodPs: number[] = [];
  const end = Date.now() + FLOOD_S * 1000;
  while (Date.now() < end) {
    peakRss = Math.max(peakRss, rssMiB(pid));
    floodPs.push(psMs(keel));
    await sleep(500);
  }
  const shutdown = await stop();
  const notes = shutdown === 'killed' || shutdown.code !== 0 ? [`keel shut down with ${JSON.stringify(shutdown)}: ${lastOutput()}`] : [];
  const result = { idleRss: r1(idleRss), peakRss: r1(peakRss), growthMiB: r1(peakRss - idleRss), idlePsMs: r1(idlePs), floodPsMs: r1(median(floodPs)) };
  console.log(
    table([
      ['flood', 'idle', `during ${FLOOD_S} s of cat /dev/zero`, 'target'],
      ['keel-init RSS (MiB)', String(result.idleRss), `${result.peakRss} (peak, +${result.growthMiB})`, '+64 at most'],
      ['keel ps (ms, median)', String(result.idlePsMs), String(result.floodPsMs), '2x idle at most'],
    ]),
  );
  writeResult({
    bench: 'flood',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      flood: `a service running /bin/cat /dev/zero for ${FLOOD_S} s (output without a newline), beside an idle service`,
      keel: 'dist/keel-init.js as PID 1 of a PID namespace; its VmRSS sampled every 0.5 s; keel ps is the whole CLI round trip',
      anchor: 'keel-init itself, idle, with the flooding service stopped',
    },
    metrics: [
      metric('flood-rss', 'keel-init RSS under a no-newline flood, peak', 'MiB', result.peakRss, { 'keel-init idle': result.idleRss }),
      metric('flood-ps', 'keel ps during a no-newline flood, median', 'ms', result.floodPsMs, { 'keel ps idle': result.idlePsMs }),
    ],
    notes: [...notes, `RSS growth under the flood: ${result.growthMiB} MiB (target: 64 at most)`],
    raw: { ...result, floodPs },
  });
}

runBench(main, () => console.error(lastOutput()));

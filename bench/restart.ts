// Restart latency: SIGKILL a service's container init from the host and time
// until its replacement's `sleep 100000` runs, for keel and for the anchors
// supervising the same container: runit's runsv and s6's s6-supervise each
// running `runc run` of keel's own config.json, and Docker's
// `--restart always` with the same busybox root imported as an image.
//
//   node bench/run.mjs restart [KILLS]
//
// One method for all: poll the container's cgroup (bench/lib/cgroup-watch.ts).
// Rounds are interleaved (each round kills every supervisor once, in a
// rotating order) and each container has run at least 10.5 s when it is
// killed: Docker doubles its restart delay (from 100 ms) after runs shorter
// than 10 s, and runsv and s6 hold back restarts of runs shorter than 1 s.
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../test/helpers/rootfs.js';
import { attemptCgroups, cgroupProcsOf, sleepersOf, waitForNewSleeper, type Watched } from './lib/cgroup-watch.js';
import { runBench, sleep, track } from './lib/cleanup.js';
import { containerPid, docker, ensureDockerd, importImage, IMAGE, removeContainers } from './lib/docker.js';
import { inspect, lastOutput, launchKeel, serviceYaml, stateEvents, waitForEvent } from './lib/keel.js';
import { isZombieOrGone, now, sleepersUnder } from './lib/proc.js';
import { machine, metric, writeResult } from './lib/results.js';
import { installed, startSupervised } from './lib/runc-supervised.js';
import { spread, table } from './lib/stats.js';

const KILLS = Number(process.argv[2] ?? 10);
const WARMUP = 2;
const MIN_RUN_MS = 10_500;

interface Contender {
  name: string;
  procs: Watched;
  startedAt: number;
  samples: Array<{ round: number; killToRunningMs: number }>;
  /** Waits for anything the contender needs after a restart (keel: its own log). */
  after?: (old: number) => Promise<void>;
}

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  const base = mkdtempSync(join(tmpdir(), 'keel-bench-restart-'));
  chmodSync(base, 0o711);
  track(() => rmSync(base, { recursive: true, force: true }));
  const rootfs = busyboxRootfs(join(base, 'rootfs'));
  const skipped: Record<string, string> = {};
  const contenders: Contender[] = [];

  // keel
  const manifest = 'services:\n' + serviceYaml('restart', rootfs, ['restart: always', 'stopSignal: SIGKILL', 'backoff: {initial: 0ms, jitter: 0}', 'startLimit: {burst: 1000, interval: 1m}']);
  const { keel } = launchKeel(manifest);
  await keel.waitFor(/all 1 service\(s\) ready/, 60_000);
  // "running" comes when runc start returns; the container's exec of sleep may still be a moment away.
  let keelSleeper: number | undefined;
  for (const end = Date.now() + 10_000; (keelSleeper = sleepersUnder(keel.hostPid())[0]) === undefined && Date.now() < end; ) await sleep(20);
  if (keelSleeper === undefined) throw new Error('keel reports ready but its container is not running');
  const keelBreakdown: Array<{ attempt: number; killAt: number }> = [];
  const keelC: Contender = { name: 'keel', procs: attemptCgroups(cgroupProcsOf(keelSleeper)), startedAt: Date.now(), samples: [] };
  keelC.after = async () => {
    const info = inspect(keel, 'restart');
    await waitForEvent(keel, 'restart', 'ready', info.attempt, 15_000);
  };
  contenders.push(keelC);

  // runsv and s6-supervise, on keel's config.json
  for (const cmd of ['runsv', 's6-supervise'] as const) {
    if (!installed(cmd)) {
      skipped[cmd] = `${cmd} is not installed (make bench installs runit and s6)`;
      continue;
    }
    const sup = await startSupervised(cmd, join(base, cmd), join(keel.dir, 'state', 'containers', 'restart+1', 'config.json'));
    const end = Date.now() + 15_000;
    let first: number | undefined;
    while ((first = sleepersUnder(sup.pid)[0]) === undefined && Date.now() < end) await sleep(20);
    if (first === undefined) throw new Error(`${cmd} + runc run did not come up`);
    contenders.push({ name: `${cmd} + runc run`, procs: cgroupProcsOf(first), startedAt: Date.now(), samples: [] });
  }

  // Docker
  const whyNot = await ensureDockerd(base);
  if (whyNot) skipped.docker = whyNot;
  else {
    importImage(rootfs);
    const name = 'keel-bench-restart';
    removeContainers([name]);
    track(() => removeContainers([name]));
    docker('run', '-d', '--restart', 'always', '--network', 'host', '--read-only', '--name', name, IMAGE, '/bin/sleep', '100000');
    contenders.push({ name: 'docker --restart always', procs: cgroupProcsOf(containerPid(name)), startedAt: Date.now(), samples: [] });
  }
  for (const [k, v] of Object.entries(skipped)) console.log(`anchor skipped: ${k}: ${v}`);

  for (let round = 0; round < WARMUP + KILLS; round++) {
    for (let j = 0; j < contenders.length; j++) {
      const c = contenders[(round + j) % contenders.length]!;
      const wait = c.startedAt + MIN_RUN_MS - Date.now();
      if (wait > 0) await sleep(wait);
      const [old] = sleepersOf(c.procs);
      if (old === undefined) throw new Error(`${c.name}: no container process in ${JSON.stringify(c.procs)}`);
      const killAt = now();
      process.kill(old, 'SIGKILL');
      const seen = await waitForNewSleeper(c.procs, old, 30_000);
      c.startedAt = Date.now();
      if (c === keelC) keelBreakdown.push({ attempt: inspect(keel, 'restart').attempt - 1, killAt });
      if (round >= WARMUP) c.samples.push({ round, killToRunningMs: seen.at - killAt });
      await c.after?.(old);
      while (!isZombieOrGone(old)) await sleep(5);
      await sleep(200); // let the supervisor settle before the next one is killed
    }
    process.stdout.write(`round ${round + 1}/${WARMUP + KILLS}\r`);
  }

  // keel's own account of each restart, from its log and exit records.
  const exits = inspect(keel, 'restart').exits;
  const events = stateEvents(keel).filter((e) => e.service === 'restart');
  const at = (to: string, attempt: number) => events.find((x) => x.to === to && x.attempt === attempt)?.time ?? NaN;
  const breakdown = keelBreakdown.slice(WARMUP).map((k) => {
    const exitedAt = exits.find((e) => e.attempt === k.attempt)?.exitedAt ?? NaN;
    return {
      attempt: k.attempt,
      killToExitRecordedMs: exitedAt - k.killAt,
      exitRecordedToRunningMs: at('running', k.attempt + 1) - exitedAt,
      startingToRunningMs: at('running', k.attempt + 1) - at('starting', k.attempt + 1),
    };
  });

  const stats = Object.fromEntries(contenders.map((c) => [c.name, spread(c.samples.map((s) => s.killToRunningMs))]));
  const keelMedian = stats.keel!.median;
  const rows: string[][] = [[`restart latency, SIGKILL → replacement running (ms), n=${KILLS}`, 'median', 'p90', 'min', 'max', 'keel/this']];
  for (const c of contenders) {
    const s = stats[c.name]!;
    rows.push([c.name, s.median.toFixed(1), s.p90.toFixed(1), s.min.toFixed(1), s.max.toFixed(1), (keelMedian / s.median).toFixed(2)]);
  }
  const b = (f: (x: (typeof breakdown)[number]) => number) => spread(breakdown.map(f).filter(Number.isFinite));
  rows.push(['keel: kill → exit recorded (reap, output drained; the dead attempt is cleared after the next start)', ...[b((x) => x.killToExitRecordedMs)].map((s) => [s.median.toFixed(1), s.p90.toFixed(1), s.min.toFixed(1), s.max.toFixed(1), ''])[0]!]);
  rows.push(['keel: exit recorded → running (bundle, runc create+start)', ...[b((x) => x.exitRecordedToRunningMs)].map((s) => [s.median.toFixed(1), s.p90.toFixed(1), s.min.toFixed(1), s.max.toFixed(1), ''])[0]!]);
  console.log('\n' + table(rows));

  const anchors = Object.fromEntries(contenders.filter((c) => c !== keelC).map((c) => [c.name, stats[c.name]!.median]));
  writeResult({
    bench: 'restart',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      service: 'busybox /bin/sleep 100000, read-only root, host network; keel: restart always, backoff initial 0ms jitter 0',
      anchors: 'runsv and s6-supervise each exec `runc run` of the config.json keel generated (own cgroup); docker run --restart always --network host --read-only of the same root (docker import)',
      method: 'SIGKILL from the host to the container init; time from just before kill(2) until a new `sleep 100000` is in the container cgroup (polled ~1 ms)',
      rounds: `${WARMUP} warm-up + ${KILLS} measured, interleaved in rotating order, each container ran ≥ ${MIN_RUN_MS / 1000} s before its kill`,
    },
    metrics: [metric('restart', 'Restart latency (median)', 'ms', keelMedian, anchors)],
    notes: [
      ...Object.entries(skipped).map(([k, v]) => `${k} skipped: ${v}`),
      "Docker waits at least 100 ms before any restart (its restart manager's minimum delay); keel's backoff starts at 0 ms here (its default is 100 ms).",
    ],
    raw: { stats, keelBreakdown: breakdown, samples: Object.fromEntries(contenders.map((c) => [c.name, c.samples])) },
  });
}

runBench(main, () => console.error(`keel printed:\n${lastOutput()}`));

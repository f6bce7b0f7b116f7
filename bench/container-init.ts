// keel as a container image's init, against the inits images use today:
// tini and dumb-init (reap and forward signals to one child), supervisord
// (Python; supervises), and s6 and runit (C supervisors; s6-overlay itself is
// neither on the npm registry nor in Debian, so Debian's s6 stands in).
//
//   node bench/run.mjs container-init [KILLS]
//
// 1. Size added to an image: keel's /opt/keel (with its own node, or only its
//    bundles where the image has node 20+) against each anchor's files.
// 2. RSS of the init supervising two `sleep 100000` services, each init PID 1
//    of its own PID namespace (tini and dumb-init need a shell for two).
// 3. Restart latency of a process service: SIGKILL of the sleep until its
//    replacement runs, keel (kind: process) against s6-supervise and runsv
//    running the same command; rounds interleaved, each run up at least 2 s
//    (s6-supervise and runsv hold back a service that died within 1 s).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initImageEntries } from '../pkg/image/init-image.js';
import { DIST } from '../test/helpers/keel-ns.js';
import { runBench, sleep, track } from './lib/cleanup.js';
import { launchKeel, lastOutput } from './lib/keel.js';
import { allPids, isSleeper, isZombieOrGone, now, readOr, rssKiB, sleepersUnder } from './lib/proc.js';
import { machine, metric, writeResult } from './lib/results.js';
import { spread, table } from './lib/stats.js';

const KILLS = Number(process.argv[2] ?? 10);
const WARMUP = 2;
const MIN_RUN_MS = 2000;
const MiB = 2 ** 20;
const SLEEP = 'sleep 100000';

const installed = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Installed-Size (KiB) of a package and the packages it needs that a Debian base image lacks (Priority required/important are there). */
function packageClosureBytes(pkg: string): number | undefined {
  const r = spawnSync('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', '--no-pre-depends', pkg], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const names = new Set([pkg, ...[...r.stdout.matchAll(/^\s+Depends: <?([^\s>]+)>?$/gm)].map((m) => m[1]!)]);
  let kib = 0;
  for (const n of names) {
    const q = spawnSync('dpkg-query', ['-W', '-f', '${Installed-Size} ${Priority}', n], { encoding: 'utf8' });
    if (q.status !== 0) continue;
    const [size, priority] = q.stdout.trim().split(' ');
    if (priority === 'required' || priority === 'important') continue;
    kib += Number(size);
  }
  return kib * 1024;
}

function sizes(): { rows: Record<string, number>; notes: string[] } {
  const keelAll = initImageEntries(DIST).reduce((n, e) => n + (e.type === 'file' ? e.data.length : 0), 0);
  const bundles = ['keel-init.js', 'keel.js', 'keel_sys.node'].reduce((n, f) => n + statSync(join(DIST, f)).size, 0);
  const rows: Record<string, number> = { 'keel (/opt/keel, own node)': keelAll, 'keel (bundles only, image has node 20+)': bundles };
  const notes: string[] = [];
  if (installed('tini-static')) rows['tini (tini-static)'] = statSync('/usr/bin/tini-static').size;
  if (installed('dumb-init')) rows['dumb-init (Debian, uses the image libc)'] = statSync('/usr/bin/dumb-init').size;
  const sup = packageClosureBytes('supervisor');
  if (sup !== undefined) rows['supervisord (supervisor + Python, Debian)'] = sup;
  const s6 = packageClosureBytes('s6');
  if (s6 !== undefined) rows['s6 (Debian s6 + skalibs + execline)'] = s6;
  notes.push('s6-overlay is neither on the npm registry nor a Debian package, and nothing else can be fetched here; Debian\'s s6 (the supervision suite s6-overlay is built on) stands in for it.');
  notes.push('supervisord and s6 sizes are the Installed-Size of the package and every dependency that is not Priority required/important (a Debian base image has those).');
  return { rows, notes };
}

/** An init as PID 1 of its own PID namespace (unshare), stopped by the cleanups. */
function pid1(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', ...args], { stdio: 'ignore', env });
  track(() => void child.kill('SIGKILL'));
  return child;
}

/** Every process below `root` (the unshare process), with its pid. */
function treeUnder(root: number): number[] {
  const out: number[] = [];
  const byParent = new Map<number, number[]>();
  for (const p of allPids()) {
    const stat = readOr(`/proc/${p}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    byParent.set(ppid, [...(byParent.get(ppid) ?? []), p]);
  }
  const stack = [...(byParent.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(byParent.get(p) ?? []));
  }
  return out;
}

/** RSS (MiB) of everything an init runs in its namespace but the two services, once both sleeps run. */
async function rssOf(root: number, label: string): Promise<{ total: number; parts: Record<string, number> }> {
  const end = Date.now() + 30_000;
  while (treeUnder(root).filter(isSleeper).length < 2) {
    if (Date.now() > end) throw new Error(`${label}: the two services never ran`);
    await sleep(50);
  }
  await sleep(2000); // settled
  const parts: Record<string, number> = {};
  let total = 0;
  for (const p of treeUnder(root).filter((x) => !isSleeper(x))) {
    const name = readlinkSync(`/proc/${p}/exe`).split('/').pop()!;
    const kib = rssKiB(p);
    parts[name] = (parts[name] ?? 0) + kib / 1024;
    total += kib / 1024;
  }
  return { total, parts };
}

/** A service directory for s6-svscan or runsvdir: `run` execs the service's command. */
function serviceDir(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run'), `#!/bin/sh\nexec ${SLEEP}\n`);
  chmodSync(join(dir, 'run'), 0o755);
  return dir;
}

const TWO = 'services:\n' + ['a', 'b'].map((n) => `  - name: ${n}\n    kind: process\n    command: ["sleep", "100000"]\n`).join('');

async function memory(base: string): Promise<Record<string, { total: number; parts: Record<string, number> }>> {
  const out: Record<string, { total: number; parts: Record<string, number> }> = {};
  const { keel, stop } = launchKeel(TWO);
  await keel.waitFor(/all 2 service\(s\) ready/, 60_000);
  out.keel = await rssOf(Number(readOr(`/proc/${keel.hostPid()}/stat`).split(' ')[3]), 'keel');
  await stop();
  const shellTwo = ['sh', '-c', `${SLEEP} & ${SLEEP} & wait`];
  const runs: Array<[string, string[]]> = [];
  if (installed('tini')) runs.push(['tini (+ sh for two)', ['tini', '--', ...shellTwo]]);
  if (installed('dumb-init')) runs.push(['dumb-init (+ sh for two)', ['dumb-init', ...shellTwo]]);
  if (installed('supervisord')) {
    const conf = join(base, 'supervisord.conf');
    writeFileSync(conf, `[supervisord]\nnodaemon=true\nlogfile=${join(base, 'supervisord.log')}\npidfile=${join(base, 'supervisord.pid')}\n${['a', 'b'].map((n) => `[program:${n}]\ncommand=${SLEEP}\nautorestart=true\n`).join('')}`);
    runs.push(['supervisord', ['supervisord', '-n', '-c', conf]]);
  }
  if (installed('s6-svscan')) {
    const scan = join(base, 's6-scan');
    for (const n of ['a', 'b']) serviceDir(scan, n);
    runs.push(['s6-svscan + 2 s6-supervise', ['s6-svscan', scan]]);
  }
  if (installed('runsvdir')) {
    const scan = join(base, 'runit-scan');
    for (const n of ['a', 'b']) serviceDir(scan, n);
    runs.push(['runsvdir + 2 runsv', ['runsvdir', scan]]);
  }
  for (const [name, args] of runs) {
    const child = pid1(args);
    out[name] = await rssOf(child.pid!, name);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  return out;
}

interface Contender {
  name: string;
  root: number;
  startedAt: number;
  samples: number[];
}

async function restarts(base: string): Promise<Contender[]> {
  const { keel } = launchKeel('services:\n  - name: r\n    kind: process\n    command: ["sleep", "100000"]\n    backoff: {initial: 0ms, jitter: 0}\n    startLimit: {burst: 1000, interval: 1m}\n');
  await keel.waitFor(/all 1 service\(s\) ready/, 60_000);
  const contenders: Contender[] = [{ name: 'keel (kind: process)', root: keel.hostPid(), startedAt: Date.now(), samples: [] }];
  for (const cmd of ['s6-supervise', 'runsv']) {
    if (!installed(cmd)) continue;
    const dir = serviceDir(join(base, `restart-${cmd}`), 'svc');
    const child = spawn(cmd, [dir], { stdio: 'ignore' });
    track(() => {
      child.kill('SIGKILL');
      for (const p of sleepersUnder(child.pid!)) process.kill(p, 'SIGKILL');
    });
    contenders.push({ name: cmd, root: child.pid!, startedAt: Date.now(), samples: [] });
  }
  for (const c of contenders) {
    const end = Date.now() + 15_000;
    while (sleepersUnder(c.root)[0] === undefined && Date.now() < end) await sleep(20);
  }
  for (let round = 0; round < WARMUP + KILLS; round++) {
    for (let j = 0; j < contenders.length; j++) {
      const c = contenders[(round + j) % contenders.length]!;
      const wait = c.startedAt + MIN_RUN_MS - Date.now();
      if (wait > 0) await sleep(wait);
      const [old] = sleepersUnder(c.root);
      if (old === undefined) throw new Error(`${c.name}: no service process`);
      const killAt = now();
      process.kill(old, 'SIGKILL');
      let fresh: number | undefined;
      const end = Date.now() + 30_000;
      // Polled without yielding for long: the time is what a user sees (the replacement exists and runs).
      while ((fresh = sleepersUnder(c.root).find((p) => p !== old)) === undefined) {
        if (Date.now() > end) throw new Error(`${c.name}: no replacement within 30 s`);
        await new Promise((r) => setImmediate(r));
      }
      const seenAt = now();
      c.startedAt = Date.now();
      if (round >= WARMUP) c.samples.push(seenAt - killAt);
      while (!isZombieOrGone(old)) await sleep(5);
      await sleep(200);
    }
    process.stdout.write(`round ${round + 1}/${WARMUP + KILLS}\r`);
  }
  return contenders;
}

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  const base = mkdtempSync(join(tmpdir(), 'keel-bench-ctrinit-'));
  track(() => rmSync(base, { recursive: true, force: true }));

  const size = sizes();
  const mem = await memory(base);
  const contenders = await restarts(base);

  const mib = (b: number) => (b / MiB).toFixed(2);
  const keelSize = size.rows['keel (/opt/keel, own node)']!;
  console.log('\n' + table([['size added to an image (MiB)', 'size', 'keel/this'], ...Object.entries(size.rows).map(([k, v]) => [k, mib(v), (keelSize / v).toFixed(1)])]));
  const keelRss = mem.keel!.total;
  console.log('\n' + table([['RSS with two services (MiB)', 'total', 'parts', 'keel/this'], ...Object.entries(mem).map(([k, v]) => [k, v.total.toFixed(1), Object.entries(v.parts).map(([p, x]) => `${p} ${x.toFixed(1)}`).join(', '), (keelRss / v.total).toFixed(2)])]));
  const stats = Object.fromEntries(contenders.map((c) => [c.name, spread(c.samples)]));
  const keelRestart = stats[contenders[0]!.name]!.median;
  console.log('\n' + table([[`restart latency, SIGKILL → replacement running (ms), n=${KILLS}`, 'median', 'p90', 'min', 'max', 'keel/this'], ...contenders.map((c) => { const s = stats[c.name]!; return [c.name, s.median.toFixed(1), s.p90.toFixed(1), s.min.toFixed(1), s.max.toFixed(1), (keelRestart / s.median).toFixed(2)]; })]));

  const others = <T>(o: Record<string, T>, skip: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !skip.includes(k)));
  writeResult({
    bench: 'container-init',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      size: 'bytes of the files each init adds to an image; keel: /opt/keel as keel init-image writes it (keel-init.js, keel.js, the addon, node and its libraries)',
      memory: 'each init PID 1 of its own PID namespace (unshare) with two `sleep 100000` services; RSS of every process in it but the two sleeps, 2 s after both run',
      restart: `SIGKILL of the service's sleep from the host; time until a new sleep is below the supervisor (polled); ${WARMUP} warm-up + ${KILLS} measured rounds, interleaved, each run up ≥ ${MIN_RUN_MS / 1000} s; keel: restart always, backoff initial 0 ms`,
    },
    metrics: [
      metric('init-size', 'Size added to an image, keel with its own node', 'MiB', keelSize / MiB, Object.fromEntries(Object.entries(others(size.rows, ['keel (/opt/keel, own node)'])).map(([k, v]) => [k, v / MiB]))),
      metric('init-rss', 'Init RSS with two services', 'MiB', keelRss, Object.fromEntries(Object.entries(others(mem, ['keel'])).map(([k, v]) => [k, v.total]))),
      metric('process-restart', 'Restart latency of a process service (median)', 'ms', keelRestart, Object.fromEntries(contenders.slice(1).map((c) => [c.name, stats[c.name]!.median]))),
    ],
    notes: [
      ...size.notes,
      'tini and dumb-init supervise nothing: they run one child, here a shell starting the two services, and exit with it; their memory figure includes that shell.',
      "s6-supervise and runsv restart a service only after it has run 1 s (each run here lasts at least 2 s before its kill); keel's backoff starts at 0 ms here (its default is 100 ms).",
    ],
    raw: { sizes: size.rows, memory: mem, restarts: Object.fromEntries(contenders.map((c) => [c.name, c.samples])) },
  });
}

runBench(main, () => console.error(`keel printed:\n${lastOutput()}`));

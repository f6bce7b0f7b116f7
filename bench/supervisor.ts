// Supervisor costs: how fast keel restarts a killed service (against runit's
// runsv supervising `runc run` of the very same bundle), keel-init's RSS with
// 0, 20 and 100 idle services, and its CPU time while they idle.
//
//   node bench/run.mjs supervisor [KILLS]
//
// keel runs for real: dist/keel-init.js as PID 1 of a PID namespace
// (test/helpers/keel-ns.ts), services are runc containers of a busybox root.
// Every kill is a SIGKILL sent from the host to the container's init, with the
// time taken just before it. For keel the restart is read from its own JSON
// log (the new attempt's "running" event) and exit record (exitedAt); for
// both keel and the anchor it is also observed from outside, by polling the
// supervisor's process tree for the new `sleep 100000`, so that the two
// supervisors are compared by one method.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { ExitRecord, ServiceDetail } from '../services/service.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, startKeel, type KeelNs } from '../test/helpers/keel-ns.js';
import { busyboxRootfs } from '../test/helpers/rootfs.js';

const KILLS = Number(process.argv[2] ?? 15);
const WARMUP = 2;
const SERVICE_COUNTS = [0, 20, 100] as const;
const CPU_WINDOW_S = 10;
const SETTLE_MS = 3000;
const ANCHOR_ID = 'keel-bench-anchor';
const RESULTS = join(import.meta.dirname, '../../bench/results');

// ---------- small helpers ----------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Wall-clock milliseconds with sub-millisecond resolution (keel's log uses Date.now()). */
const now = (): number => performance.timeOrigin + performance.now();

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Children of every thread of `pid` (a reaper's adopted children hang off whichever thread). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = new Set<number>();
  for (const t of tasks) {
    for (const c of readOr(`/proc/${pid}/task/${t}/children`).trim().split(/\s+/)) if (c) out.add(Number(c));
  }
  return [...out];
}

function argv(pid: number): string[] {
  return readOr(`/proc/${pid}/cmdline`).split('\0').filter((a) => a !== '');
}

const isSleeper = (pid: number): boolean => {
  const a = argv(pid);
  return a.length === 2 && /(^|\/)sleep$/.test(a[0]!) && a[1] === '100000';
};

/** Every `sleep 100000` whose parent chain leads to `root`, within `depth` generations. */
function sleepersUnder(root: number, depth = 4): number[] {
  const found: number[] = [];
  let level = [root];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: number[] = [];
    for (const p of level) {
      for (const c of childrenOf(p)) {
        if (isSleeper(c)) found.push(c);
        else next.push(c);
      }
    }
    level = next;
  }
  return found;
}

/** A process's pids in each PID namespace, outermost first. */
function nsPids(pid: number): number[] {
  const m = /^NSpid:\s*(.+)$/m.exec(readOr(`/proc/${pid}/status`));
  return m ? m[1]!.trim().split(/\s+/).map(Number) : [];
}

function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

function isZombieOrGone(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return true;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** Polls (about every millisecond) until a `sleep 100000` other than `old` appears under `root`. */
async function waitForNewSleeper(root: number, old: number, timeoutMs: number): Promise<{ pid: number; at: number }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const fresh = sleepersUnder(root).filter((p) => p !== old);
    if (fresh.length > 0) return { pid: fresh[0]!, at: now() };
    if (Date.now() > end) throw new Error(`no new container process under pid ${root} within ${timeoutMs} ms`);
    await sleep(1);
  }
}

async function waitForSleepers(root: number, count: number, timeoutMs: number): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = sleepersUnder(root);
    if (s.length === count) return s;
    if (Date.now() > end) throw new Error(`expected ${count} container process(es) under pid ${root}, found ${s.length}`);
    await sleep(20);
  }
}

function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readOr(`/proc/${pid}/status`).split('\n')) {
    const m = /^(Vm\w+|Rss\w+|Threads):\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime of the whole process in ms (clock-tick resolution). */
function cpuMs(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 of stat; f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** On-CPU time summed over the live threads, in ms (nanosecond resolution, from schedstat). */
function schedMs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readOr(`/proc/${pid}/task/${t}/schedstat`, '0').split(' ')[0]);
  return ns / 1e6;
}

// ---------- keel ----------

type ExitRec = ExitRecord;
type Inspect = ServiceDetail;
interface StateEvent {
  service: string;
  to: string;
  attempt: number;
  time: number;
}

function cli(k: KeelNs, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', env: { ...process.env, KEEL_SOCKET: join(k.dir, 'state', 'keel.sock') }, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`keel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inspect = (k: KeelNs, name: string): Inspect => JSON.parse(cli(k, 'inspect', name)) as Inspect;

function stateEvents(k: KeelNs): StateEvent[] {
  const out: StateEvent[] = [];
  for (const line of readOr(join(k.dir, 'state', 'keel.log')).split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { kind?: string; service?: string; to?: string; attempt?: number; time?: string };
    if (e.kind === 'service.state' && e.service && e.to && e.time) out.push({ service: e.service, to: e.to, attempt: e.attempt ?? 0, time: Date.parse(e.time) });
  }
  return out;
}

async function waitForEvent(k: KeelNs, service: string, to: string, attempt: number, timeoutMs: number): Promise<StateEvent> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const e = stateEvents(k).find((x) => x.service === service && x.to === to && x.attempt === attempt);
    if (e) return e;
    if (Date.now() > end) throw new Error(`keel never logged ${service} ${to} for attempt ${attempt}`);
    await sleep(10);
  }
}

/** The keel running now, so that a failure can show what it printed. */
let current: KeelNs | undefined;
let currentExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
function launch(manifest: string): KeelNs {
  const k = startKeel(manifest);
  current = k;
  currentExit = undefined;
  void k.exited.then((e) => {
    if (current === k) currentExit = e;
  });
  return k;
}

function serviceYaml(name: string, rootfs: string, extra: string[] = []): string {
  return [`  - name: ${name}`, `    image: ${rootfs}`, '    readonly: true', '    command: ["/bin/sleep", "100000"]', ...extra.map((l) => `    ${l}`)].join('\n') + '\n';
}

/** Shuts keel down the normal way (SIGTERM); kills it if that takes more than a minute. */
async function stopKeel(k: KeelNs): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'killed'> {
  try {
    k.signal('SIGTERM');
  } catch {
    /* already gone */
  }
  const r = await Promise.race([k.exited, sleep(60_000).then(() => 'killed' as const)]);
  k.cleanup();
  return r;
}

// ---------- cleanup on every path ----------

const cleanups: Array<() => void | Promise<void>> = [];
/** Registers a cleanup; the function returned runs it now (once) and forgets it. */
function track(fn: () => void | Promise<void>): () => Promise<void> {
  cleanups.push(fn);
  return async () => {
    const i = cleanups.indexOf(fn);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}
async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const c = cleanups.pop()!;
    try {
      await c();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    void runCleanups().then(() => process.exit(130));
  });
}

// ---------- the anchor: runsv supervising runc run ----------

interface Anchor {
  runsvPid: number;
  stop(): Promise<void>;
}

function cgroupLeaves(path: string): string[] {
  const base = '/sys/fs/cgroup';
  const out: string[] = [];
  for (const c of readdirSync(base)) {
    const p = join(base, c, path);
    if (existsSync(p)) out.push(p);
  }
  return out;
}

async function startAnchor(dir: string, keelConfig: string): Promise<Anchor> {
  const bundle = join(dir, 'bundle');
  const root = join(dir, 'runc');
  const sv = join(dir, 'sv');
  for (const d of [bundle, root, sv]) mkdirSync(d, { recursive: true });
  // The very config.json keel runs, in its own cgroup.
  const config = JSON.parse(readFileSync(keelConfig, 'utf8')) as { linux: { cgroupsPath?: string } };
  const cgroupsPath = `/keel/${ANCHOR_ID}`;
  config.linux.cgroupsPath = cgroupsPath;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(sv, 'run'), `#!/bin/sh\nexec runc --root ${root} run --bundle ${bundle} ${ANCHOR_ID}\n`);
  chmodSync(join(sv, 'run'), 0o755);
  const child: ChildProcess = spawn('runsv', [sv], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = track(async (): Promise<void> => {
    // runsv first, so nothing restarts; then the container init, so `runc run` tears down and exits.
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(5000)]);
    for (const p of allPids().filter((p) => isSleeper(p) && readOr(`/proc/${p}/cgroup`).includes(`:${cgroupsPath}\n`))) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const end = Date.now() + 10_000;
    while (Date.now() < end && spawnSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout.trim() !== '') await sleep(50);
    spawnSync('runc', ['--root', root, 'delete', '-f', ANCHOR_ID], { stdio: 'ignore' });
    for (const leaf of cgroupLeaves(cgroupsPath)) {
      try {
        rmdirSync(leaf);
      } catch {
        /* busy or gone */
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  await waitForSleepers(child.pid!, 1, 15_000);
  return { runsvPid: child.pid!, stop };
}

// ---------- 1. restart latency ----------

interface KeelRestartSample {
  kill: number;
  warmup: boolean;
  attempt: number;
  killAt: number;
  /** The new container's init seen in /proc under keel-init. */
  visibleAt: number;
  /** From keel's exit record of the killed attempt (taken after runc delete and cgroup removal). */
  exitedAt: number;
  backoffAt: number;
  startingAt: number;
  runningAt: number;
  readyAt: number;
  killToRunningMs: number;
  killToVisibleMs: number;
  killToExitedAtMs: number;
  exitedAtToRunningMs: number;
  startingToRunningMs: number;
}
interface AnchorSample {
  kill: number;
  warmup: boolean;
  killAt: number;
  visibleAt: number;
  killToVisibleMs: number;
}

interface RestartResult {
  keel: KeelRestartSample[];
  anchor: AnchorSample[] | { skipped: string };
}

async function restartLatency(base: string, rootfs: string): Promise<RestartResult> {
  const manifest =
    'services:\n' + serviceYaml('restart', rootfs, ['restart: always', 'stopSignal: SIGKILL', 'backoff: {initial: 0ms, jitter: 0}', 'startLimit: {burst: 1000, interval: 1m}']);
  const keel = launch(manifest);
  const stopIt = track(async () => void (await stopKeel(keel)));
  await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
  const keelRoot = keel.hostPid();

  let anchor: Anchor | undefined;
  let skipped: string | undefined;
  if (spawnSync('sh', ['-c', 'command -v runsv'], { stdio: 'ignore' }).status !== 0) {
    skipped = 'runsv is not installed (apt-get install runit)';
  } else {
    try {
      anchor = await startAnchor(join(base, 'anchor'), join(keel.dir, 'state', 'containers', 'restart', 'config.json'));
    } catch (err) {
      skipped = `runsv + runc run did not come up: ${(err as Error).message}`;
    }
  }
  if (skipped) console.log(`anchor skipped: ${skipped}`);
  else await sleep(1300); // runsv delays restarting a run that lasted under a second

  const keelSamples: KeelRestartSample[] = [];
  const killedAt: Array<{ attempt: number; killAt: number; visibleAt: number; kill: number }> = [];
  const anchorSamples: AnchorSample[] = [];
  for (let i = 0; i < WARMUP + KILLS; i++) {
    // keel: the pid comes from keel inspect (keel's namespace), mapped to the host pid to kill it from here.
    const info = inspect(keel, 'restart');
    if (info.state !== 'ready' || info.pid === undefined) throw new Error(`service restart is ${info.state}, not ready`);
    const target = sleepersUnder(keelRoot).find((p) => nsPids(p)[1] === info.pid);
    if (target === undefined) throw new Error(`no host process for keel's pid ${info.pid}`);
    const killAt = now();
    process.kill(target, 'SIGKILL');
    const seen = await waitForNewSleeper(keelRoot, target, 15_000);
    killedAt.push({ attempt: info.attempt, killAt, visibleAt: seen.at, kill: i });
    await waitForEvent(keel, 'restart', 'ready', info.attempt + 1, 15_000);
    await sleep(300);

    if (anchor) {
      const [old] = sleepersUnder(anchor.runsvPid);
      if (old === undefined) throw new Error('the anchor container is not running');
      const aKill = now();
      process.kill(old, 'SIGKILL');
      const aSeen = await waitForNewSleeper(anchor.runsvPid, old, 15_000);
      anchorSamples.push({ kill: i, warmup: i < WARMUP, killAt: aKill, visibleAt: aSeen.at, killToVisibleMs: aSeen.at - aKill });
      while (!isZombieOrGone(old)) await sleep(5);
    }
    // runsv waits a second before restarting a run that lasted under one: keep every run longer than that.
    await sleep(1300);
  }

  const exits = inspect(keel, 'restart').exits;
  const events = stateEvents(keel).filter((e) => e.service === 'restart');
  const at = (to: string, attempt: number): number => {
    const e = events.find((x) => x.to === to && x.attempt === attempt);
    if (!e) throw new Error(`no ${to} event for attempt ${attempt}`);
    return e.time;
  };
  for (const k of killedAt) {
    const exit = exits.find((e) => e.attempt === k.attempt);
    if (!exit) throw new Error(`keel kept no exit record for attempt ${k.attempt}`);
    if (exit.signal !== 'SIGKILL') throw new Error(`attempt ${k.attempt} ended with ${exit.signal ?? exit.code}, not SIGKILL`);
    const next = k.attempt + 1;
    const s = { starting: at('starting', next), running: at('running', next), ready: at('ready', next), backoff: at('backoff', k.attempt) };
    keelSamples.push({
      kill: k.kill,
      warmup: k.kill < WARMUP,
      attempt: k.attempt,
      killAt: k.killAt,
      visibleAt: k.visibleAt,
      exitedAt: exit.exitedAt,
      backoffAt: s.backoff,
      startingAt: s.starting,
      runningAt: s.running,
      readyAt: s.ready,
      killToRunningMs: s.running - k.killAt,
      killToVisibleMs: k.visibleAt - k.killAt,
      killToExitedAtMs: exit.exitedAt - k.killAt,
      exitedAtToRunningMs: s.running - exit.exitedAt,
      startingToRunningMs: s.running - s.starting,
    });
  }

  await anchor?.stop();
  await stopIt();
  return { keel: keelSamples, anchor: anchor ? anchorSamples : { skipped: skipped ?? 'unknown' } };
}

// ---------- 2 and 3. memory and idle CPU ----------

interface IdleResult {
  services: number;
  readyMs: number;
  status: Record<string, number>;
  rssKiB: number;
  cpu: { windowS: number; statMs: number[]; schedMs: number[]; msPerSecond: number; schedMsPerSecond: number; schedMedianSecondMs: number };
}

async function idle(count: number, rootfs: string): Promise<IdleResult> {
  const names = Array.from({ length: count }, (_, i) => `idle-${String(i).padStart(3, '0')}`);
  const manifest = count === 0 ? 'services: []\n' : 'services:\n' + names.map((n) => serviceYaml(n, rootfs, ['stopSignal: SIGKILL'])).join('');
  const t0 = Date.now();
  const keel = launch(manifest);
  let shutdown: Awaited<ReturnType<typeof stopKeel>> | undefined;
  const stop = track(async () => void (shutdown = await stopKeel(keel)));
  await keel.waitFor(count === 0 ? /boot complete/ : new RegExp(`all ${count} service\\(s\\) ready`), 180_000);
  const readyMs = Date.now() - t0;
  const pid = keel.hostPid();
  await waitForSleepers(pid, count, 30_000);
  await sleep(SETTLE_MS);
  const status = procStatus(pid);
  // CPU over the window, sampled every second.
  const alive = (): void => {
    if (!existsSync(`/proc/${pid}/task`)) throw new Error(`keel-init (host pid ${pid}) with ${count} services is gone; it printed:\n${keel.output().split('\n').slice(-30).join('\n')}`);
  };
  alive();
  const statMs = [cpuMs(pid)];
  const sched = [schedMs(pid)];
  for (let s = 0; s < CPU_WINDOW_S; s++) {
    await sleep(1000);
    alive();
    statMs.push(cpuMs(pid));
    sched.push(schedMs(pid));
  }
  const msPerSecond = (statMs.at(-1)! - statMs[0]!) / CPU_WINDOW_S;
  const schedMsPerSecond = (sched.at(-1)! - sched[0]!) / CPU_WINDOW_S;
  if (sleepersUnder(pid).length !== count) throw new Error(`a service of ${count} stopped while idle`);
  await stop();
  if (shutdown === 'killed' || shutdown?.code !== 0) console.log(`note: keel with ${count} services shut down with ${JSON.stringify(shutdown)}`);
  return {
    services: count,
    readyMs,
    status,
    rssKiB: status.VmRSS ?? NaN,
    cpu: {
      windowS: CPU_WINDOW_S,
      statMs,
      schedMs: sched.map((x) => Math.round(x * 1000) / 1000),
      msPerSecond: r1(msPerSecond),
      schedMsPerSecond: r1(schedMsPerSecond),
      // one-off work (a V8 GC some seconds after start-up) lands in one second; this is the steady rate
      schedMedianSecondMs: Math.round(median(sched.slice(1).map((x, i) => x - sched[i]!)) * 100) / 100,
    },
  };
}

// ---------- report ----------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'keel-bench-sup-'));
  chmodSync(base, 0o711);
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  try {
    const rootfs = busyboxRootfs(join(base, 'rootfs'));
    const started = Date.now();
    const restart = await restartLatency(base, rootfs);
    const idleRuns: IdleResult[] = [];
    for (const n of SERVICE_COUNTS) idleRuns.push(await idle(n, rootfs));

    const keelM = restart.keel.filter((s) => !s.warmup);
    const stats = (xs: number[]) => ({ median: r1(median(xs)), p90: r1(percentile(xs, 90)), min: r1(Math.min(...xs)), max: r1(Math.max(...xs)) });
    const summary = {
      restart: {
        kills: KILLS,
        warmup: WARMUP,
        keelKillToRunningMs: stats(keelM.map((s) => s.killToRunningMs)),
        keelExitedAtToRunningMs: stats(keelM.map((s) => s.exitedAtToRunningMs)),
        keelKillToExitedAtMs: stats(keelM.map((s) => s.killToExitedAtMs)),
        keelStartingToRunningMs: stats(keelM.map((s) => s.startingToRunningMs)),
        keelKillToVisibleMs: stats(keelM.map((s) => s.killToVisibleMs)),
        anchorKillToVisibleMs: Array.isArray(restart.anchor) ? stats(restart.anchor.filter((s) => !s.warmup).map((s) => s.killToVisibleMs)) : restart.anchor,
      },
      rssMiB: Object.fromEntries(idleRuns.map((r) => [r.services, r1(r.rssKiB / 1024)])),
      idleCpuMsPerSecond: Object.fromEntries(idleRuns.map((r) => [r.services, { stat: r.cpu.msPerSecond, schedstat: r.cpu.schedMsPerSecond, medianSecond: r.cpu.schedMedianSecondMs }])),
      readyMs: Object.fromEntries(idleRuns.map((r) => [r.services, r.readyMs])),
    };

    const ms = (x: { median: number; p90: number }) => [x.median.toFixed(1), x.p90.toFixed(1)];
    const anchorRow = Array.isArray(restart.anchor)
      ? ms(summary.restart.anchorKillToVisibleMs as { median: number; p90: number })
      : ['skipped', ''];
    const rows: string[][] = [
      ['restart latency (ms), SIGKILL of the container init, n=' + KILLS, 'median', 'p90'],
      ['keel: kill → new attempt "running" event', ...ms(summary.restart.keelKillToRunningMs)],
      ['keel: kill → exit recorded (reap, runc delete, cgroup rm)', ...ms(summary.restart.keelKillToExitedAtMs)],
      ['keel: exit recorded → "running" (keel\'s part after reaping)', ...ms(summary.restart.keelExitedAtToRunningMs)],
      ['keel:   of which "starting" → "running" (bundle + runc run)', ...ms(summary.restart.keelStartingToRunningMs)],
      ['keel: kill → new container init seen in /proc', ...ms(summary.restart.keelKillToVisibleMs)],
      ['anchor runsv + runc run: kill → new container init seen in /proc', ...anchorRow],
    ];
    const rows2: string[][] = [['keel-init, idle services (sleep 100000)', 'ready (ms)', 'VmRSS (MiB)', 'CPU ms/s (stat)', 'CPU ms/s (schedstat)', 'median 1-s (ms)']];
    for (const r of idleRuns) rows2.push([`${r.services} services`, String(r.readyMs), (r.rssKiB / 1024).toFixed(1), r.cpu.msPerSecond.toFixed(1), r.cpu.schedMsPerSecond.toFixed(1), r.cpu.schedMedianSecondMs.toFixed(2)]);

    console.log('');
    console.log(table(rows));
    console.log('');
    console.log(table(rows2));
    console.log(`(RSS after all ready + ${SETTLE_MS / 1000} s; CPU = keel-init utime+stime over ${CPU_WINDOW_S} s idle, ms per second = 0.1% of one core; ${WARMUP} warm-up kills not counted)`);
    if (!Array.isArray(restart.anchor)) console.log(`anchor skipped: ${restart.anchor.skipped}`);

    const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') });
    mkdirSync(RESULTS, { recursive: true });
    const out = {
      bench: 'supervisor',
      machine: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      date: new Date().toISOString(),
      commit: git.status === 0 ? git.stdout.trim() : 'unknown',
      durationS: Math.round((Date.now() - started) / 1000),
      setup: {
        service: 'busybox /bin/sleep 100000, readonly root, restart: always, backoff initial 0ms jitter 0, startLimit 1000/1m, stopSignal SIGKILL',
        anchor: 'runsv (runit) running `exec runc run` of the config.json keel generated for the same service, own cgroup, host PID namespace',
        killedBy: 'SIGKILL from the host to the container init; kill time taken just before kill(2)',
        visible: 'polling (~1 ms) the supervisor\'s process tree for a new `sleep 100000`',
        clkTck: CLK_TCK,
      },
      summary,
      raw: { restart, idle: idleRuns },
    };
    writeFileSync(join(RESULTS, 'supervisor.json'), JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${join('bench/results', 'supervisor.json')} in ${out.durationS} s`);
  } finally {
    await runCleanups();
  }
  process.exit(0);
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  if (current) console.error(`keel (exit ${JSON.stringify(currentExit ?? 'still running')}) printed:\n${current.output().split('\n').slice(-40).join('\n')}`);
  await runCleanups();
  process.exit(1);
});

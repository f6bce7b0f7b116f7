// Reaping: 10,000 orphans made as fast as possible inside a PID namespace,
// and the time until none is left, with keel-init as the namespace's PID 1
// and with tini (the anchor) as PID 1 of the same kind of namespace.
// Rounds alternate between the two so that machine noise hits both alike.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startKeel } from '../test/helpers/keel-ns.js';
import { machine, metric, REPO, writeResult } from './lib/results.js';
import { median } from './lib/stats.js';

const ORPHANS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes in the PID namespace of `pid1` (host pids), PID 1 excluded. */
function others(pid1: number): number {
  const ns = readlinkSync(`/proc/${pid1}/ns/pid`);
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === pid1) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === ns) n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

async function measure(pid1: number, maker: string, baseline: number): Promise<{ totalMs: number; drainMs: number }> {
  const t0 = performance.now();
  const r = spawnSync('nsenter', ['-t', String(pid1), '-p', '-m', '--', maker, String(ORPHANS)], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`the orphan maker failed (${r.status})`);
  const made = performance.now();
  const deadline = Date.now() + 120_000;
  while (others(pid1) > baseline) {
    if (Date.now() > deadline) throw new Error('orphans were still there after 2 minutes');
    await sleep(20);
  }
  const end = performance.now();
  return { totalMs: end - t0, drainMs: end - made };
}

function tiniNamespace(): { child: ChildProcess; pid1: () => number } {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'tini', '-s', '--', 'sleep', '100000'], { stdio: 'ignore' });
  return {
    child,
    pid1: () => Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]),
  };
}

async function main(): Promise<void> {
  if (spawnSync('tini', ['--version']).status !== 0) {
    console.log('reaping: tini is not installed (apt-get install tini): anchor skipped, nothing measured');
    process.exit(0);
  }
  const m = machine();
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'keel-reap-'));
  const maker = join(dir, 'orphans');
  const cc = spawnSync('gcc', ['-O2', '-static', '-o', maker, resolve(REPO, 'bench/fixtures/orphans.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
  const keelRuns: Array<{ totalMs: number; drainMs: number }> = [];
  const tiniRuns: Array<{ totalMs: number; drainMs: number }> = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const keel = startKeel('');
      try {
        await keel.waitFor(/boot complete/, 30_000);
        keelRuns.push(await measure(keel.hostPid(), maker, 0));
      } finally {
        keel.cleanup();
      }
      const tini = tiniNamespace();
      try {
        await sleep(300);
        tiniRuns.push(await measure(tini.pid1(), maker, 1)); // tini's own child, sleep, stays
      } finally {
        tini.child.kill('SIGKILL');
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const k = { total: median(keelRuns.map((r) => r.totalMs)), drain: median(keelRuns.map((r) => r.drainMs)) };
  const t = { total: median(tiniRuns.map((r) => r.totalMs)), drain: median(tiniRuns.map((r) => r.drainMs)) };
  console.log(`reaping ${ORPHANS} orphans, median of ${ROUNDS} rounds (ms)   make+reap   after the maker exits`);
  console.log(`  keel-init as PID 1                                 ${k.total.toFixed(0).padStart(9)}   ${k.drain.toFixed(0).padStart(8)}`);
  console.log(`  tini as PID 1 (anchor)                             ${t.total.toFixed(0).padStart(9)}   ${t.drain.toFixed(0).padStart(8)}`);
  console.log(`  keel/tini                                          ${(k.total / t.total).toFixed(2).padStart(9)}`);
  writeResult({
    bench: 'reaping',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      work: `${ORPHANS} orphans (bench/fixtures/orphans.c: each child forks a grandchild and exits), made as fast as possible in a PID namespace`,
      measure: 'from the start of the maker until no process but PID 1 (and tini\'s own child) is left in the namespace',
      rounds: `${ROUNDS}, alternating keel-init and tini as PID 1`,
    },
    metrics: [metric('reaping', `Reaping ${ORPHANS} orphans (make + reap)`, 'ms', Math.round(k.total), { 'tini as PID 1': Math.round(t.total) })],
    notes: [],
    raw: { orphans: ORPHANS, rounds: ROUNDS, keel: keelRuns, tini: tiniRuns },
  });
  process.exit(0);
}

void main();

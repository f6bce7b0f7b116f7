// Start cost: keel's create + start of one container until its exit is
// reaped, against `runc run` of the same bundle. Medians of N runs each,
// interleaved so that machine noise hits both alike; the ratio is the result.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackChildProcesses } from '../init/core/owned-children.js';
import { Reaper } from '../init/core/reaper.js';
import { runtimeHost } from '../init/core/runtime-host.js';
import { sys } from '../init/core/sys.js';
import { parseManifest } from '../model/index.js';
import { writeBundle } from '../runtime/bundle.js';
import { RuncEngine } from '../runtime/container-run.js';
import { isFailure } from '../runtime/outcome.js';
import { Runc } from '../runtime/runc.js';
import { runToCompletion } from '../services/phase.js';
import { busyboxRootfs } from '../test/helpers/rootfs.js';
import { machine, metric, writeResult } from './lib/results.js';
import { median } from './lib/stats.js';

const N = Number(process.argv[2] ?? 20);

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  trackChildProcesses();
  const reaper = new Reaper(sys(), { sweepMs: 1000 });
  reaper.start();
  const host = runtimeHost(sys(), reaper);
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
  try {
    const rootfs = busyboxRootfs(join(dir, 'rootfs'));
    const entry = parseManifest(`onboot:\n  - name: bench\n    image: ${rootfs}\n    readonly: true\n    command: [/bin/true]\n`, 'bench.yml').onboot[0]!;
    const stateDir = join(dir, 'state');
    const engine = new RuncEngine({ driver: new Runc(join(stateDir, 'runc'), host), host, stateDir, baseDir: dir, idOf: () => undefined });
    const deps = { engine, stateDir, emit: () => {} };
    // The anchor runs the very config.json keel generates.
    const anchorDir = join(dir, 'anchor');
    const anchor = new RuncEngine({ driver: new Runc(join(anchorDir, 'runc'), host), host, stateDir: anchorDir, baseDir: dir, idOf: () => undefined });
    const bundle = writeBundle(anchor.plan({ id: 'anchor', entry }), anchorDir, host);
    const keelMs: number[] = [];
    const runcMs: number[] = [];
    for (let i = 0; i < N + 2; i++) {
      const t0 = performance.now();
      const r = await runToCompletion('onboot', entry, deps);
      const t1 = performance.now();
      if (isFailure(r)) throw new Error(`keel run failed: ${JSON.stringify(r)}`);
      const a = spawnSync('runc', ['--root', join(dir, 'anchor-runc'), 'run', '--bundle', bundle.dir, `anchor-${i}`], { stdio: 'ignore' });
      const t2 = performance.now();
      if (a.status !== 0) throw new Error(`runc run failed with ${a.status}`);
      if (i >= 2) {
        // the first two of each are warm-up
        keelMs.push(t1 - t0);
        runcMs.push(t2 - t1);
      }
    }
    bundle.release();
    const result = { bench: 'start-cost', runs: N, keelMedianMs: +median(keelMs).toFixed(1), runcRunMedianMs: +median(runcMs).toFixed(1), ratio: +(median(keelMs) / median(runcMs)).toFixed(2) };
    console.log(`start cost, median of ${N}: keel create+start to reaped exit ${result.keelMedianMs} ms; runc run ${result.runcRunMedianMs} ms; keel/runc ${result.ratio}`);
    console.log('(keel also prepares the bundle, overlay-free here since readonly, removes runc state, the cgroup and the bundle, and writes the log: the whole onboot entry)');
    writeResult({
      bench: 'start-cost',
      machine: m,
      durationS: Math.round((Date.now() - started) / 1000),
      setup: {
        work: 'one onboot entry, /bin/true from a read-only busybox root, run to its reaped exit',
        keel: 'runToCompletion: bundle, runc run --detach, reap, runc state removed (runc delete only when processes are left), cgroup and bundle removal, log',
        anchor: 'runc run of the config.json keel generates',
        rounds: `${N} measured after 2 warm-up, interleaved`,
      },
      metrics: [metric('start-cost', 'Start cost: one container to its reaped exit', 'ms', result.keelMedianMs, { 'runc run': result.runcRunMedianMs })],
      notes: [],
      raw: { keelMs, runcMs },
    });
  } finally {
    reaper.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

void main();

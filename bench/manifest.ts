// Manifest reading: CPU time per MiB of YAML of several shapes (the yaml
// library's cost, which the size limit bounds), the normalized JSON's fast
// path, what a refused 50 MiB file costs, and the round trip of the worker
// thread keel-init reads a large YAML manifest on (from dist/keel-init.js:
// run make build first). Prints its figures; it has no anchor to compare to.
//   node bench/run.mjs manifest
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest, MAX_MANIFEST_BYTES, MAX_YAML_BYTES, normalizedJson, parseManifest } from '../model/index.js';
import { fill } from '../test/helpers/manifest-text.js';
import { REPO } from './lib/results.js';
import { median } from './lib/stats.js';

const KiB = 1024;
const MiB = KiB * KiB;

const SHAPES: Record<string, (bytes: number) => string> = {
  'services (block style)': (n) => fill(n, 'services:\n', (i) => `  - name: s${i}\n    image: /img\n    command: [/bin/sh, -c, "echo ${i}"]\n    restart: "no"\n`),
  'files with 200-byte contents': (n) => fill(n, 'files:\n', (i) => `  - path: etc/f${i}\n    contents: "${'x'.repeat(200)}"\n`),
  'one mapping of many keys': (n) => fill(n, 'services:\n  - name: a\n    image: /i\n    annotations:\n', (i) => `      k${i}: v\n`),
  'flow mappings': (n) => fill(n, 'files:\n', (i) => `  - {path: f${i}}\n`),
  'aliases of one anchor': (n) => fill(n, 'services:\n  - {name: s0, image: /i, env: &e [A=1]}\n', (i) => `  - {name: s${i + 1}, image: /i, env: *e}\n`),
};

/** CPU and wall milliseconds of f, the least of `runs`. */
function cost(f: () => unknown, runs = 3): { cpu: number; wall: number } {
  let cpu = Infinity;
  let wall = Infinity;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      f();
    } catch {
      /* refusals are measured too */
    }
    wall = Math.min(wall, performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
  }
  return { cpu, wall };
}

async function workerRoundTrip(runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const w = new Worker(join(REPO, 'dist/keel-init.js'), { workerData: { keelManifestReader: { text: 'hostname: x\n', file: 'bench.yml' } } });
      w.once('message', () => {
        times.push(performance.now() - t0);
        void w.terminate().then(() => resolve());
      });
      w.once('error', reject);
    });
  }
  return times;
}

async function main(): Promise<void> {
  console.log(`limits: ${MAX_YAML_BYTES / MiB} MiB of YAML, ${MAX_MANIFEST_BYTES / MiB} MiB of normalized JSON`);
  for (const [name, make] of Object.entries(SHAPES)) {
    const row: string[] = [];
    for (const size of [256 * KiB, MAX_YAML_BYTES - 4 * KiB]) {
      const text = make(size);
      const c = cost(() => parseManifest(text, 'bench.yml'));
      row.push(`${Math.round(text.length / KiB)} KiB: ${c.cpu.toFixed(0)} ms CPU (${((c.cpu / text.length) * MiB).toFixed(0)} ms/MiB), ${c.wall.toFixed(0)} ms wall`);
    }
    console.log(`YAML, ${name}: ${row.join('; ')}`);
  }
  // Every default spelled out: a service of two fields in YAML is most of a kilobyte of JSON.
  const normalized = normalizedJson(parseManifest(fill(MAX_YAML_BYTES / 4, 'services:\n', (i) => `  - {name: s${i}, image: /img}\n`), 'b.yml'));
  const jc = cost(() => parseManifest(normalized, 'manifest.json'));
  console.log(`normalized JSON of ${MAX_YAML_BYTES / 4 / KiB} KiB of YAML, ${(normalized.length / MiB).toFixed(1)} MiB: ${jc.cpu.toFixed(0)} ms CPU, ${jc.wall.toFixed(0)} ms wall`);
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-manifest-'));
  try {
    const big = join(dir, 'fifty.yml');
    writeFileSync(big, 'x'.repeat(50 * MiB));
    const r = cost(() => loadManifest(big));
    console.log(`a 50 MiB file, refused: ${r.cpu.toFixed(0)} ms CPU, ${r.wall.toFixed(0)} ms wall`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const w = await workerRoundTrip(7);
  console.log(`worker thread from dist/keel-init.js, start to answer for a one-line manifest: median ${median(w).toFixed(0)} ms (least ${Math.min(...w).toFixed(0)}, of 7)`);
}

await main();

// Where results go: bench/results/NAME.json, each with the commit and machine
// it was measured on. bench/report.ts assembles them into latest.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';

/** The checkout (the benchmarks run bundled from dist/bench/). */
export const REPO = resolve(import.meta.dirname, '../..');
export const RESULTS = join(REPO, 'bench/results');

export interface Machine {
  commit: string;
  dirty: boolean;
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  date: string;
  /** 1, 5 and 15 minute load averages: the machine is shared, this says how busy it was. */
  loadavg: number[];
}

export function machine(): Machine {
  const git = (...args: string[]) => spawnSync('git', args, { encoding: 'utf8', cwd: REPO });
  const head = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  return {
    commit: head.status === 0 ? head.stdout.trim() : 'unknown',
    dirty,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * One headline number of a benchmark: keel's value, the anchor's, and
 * keel/anchor. `better` says which direction wins, so a reader (and the
 * chart) knows whether a ratio under 1 is good.
 */
export interface Metric {
  id: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  keel: number;
  anchors: Array<{ name: string; value: number; ratio: number }>;
}

export function metric(id: string, label: string, unit: string, keel: number, anchors: Record<string, number>, better: Metric['better'] = 'lower'): Metric {
  return {
    id,
    label,
    unit,
    better,
    keel,
    anchors: Object.entries(anchors)
      .filter(([, v]) => Number.isFinite(v))
      .map(([name, value]) => ({ name, value, ratio: Math.round((keel / value) * 100) / 100 })),
  };
}

export interface BenchResult {
  bench: string;
  machine: Machine;
  /** Load average when the benchmark ended (machine.loadavg is at its start). */
  loadavgEnd: number[];
  durationS: number;
  setup: Record<string, string>;
  metrics: Metric[];
  notes: string[];
  raw: unknown;
}

export function writeResult(r: Omit<BenchResult, 'loadavgEnd'>): void {
  mkdirSync(RESULTS, { recursive: true });
  const out: BenchResult = { ...r, loadavgEnd: loadavg().map((x) => Math.round(x * 100) / 100) };
  writeFileSync(join(RESULTS, `${r.bench}.json`), JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote bench/results/${r.bench}.json (${r.durationS} s; load ${r.machine.loadavg.join(' ')} → ${out.loadavgEnd.join(' ')})`);
}

export function readResult(bench: string): BenchResult | undefined {
  try {
    return JSON.parse(readFileSync(join(RESULTS, `${bench}.json`), 'utf8')) as BenchResult;
  } catch {
    return undefined;
  }
}

// Gathers bench/results/NAME.json into bench/results/latest.json, prints one
// table of every metric (keel, the anchor, keel/anchor), writes a chart per
// benchmark (bench/results/NAME.svg) and the table as markdown into
// bench/results/latest.md and README's Benchmarks section (between markers).
//
//   node bench/run.mjs report
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBench } from './lib/cleanup.js';
import { machine, readResult, REPO, RESULTS, type BenchResult } from './lib/results.js';
import { table } from './lib/stats.js';
import { chart } from './lib/svg.js';

export const BENCHES = ['start-cost', 'restart', 'memory', 'reaping', 'flood', 'boot', 'image-size', 'container-init'] as const;
const START = '<!-- bench:table:start -->';
const END = '<!-- bench:table:end -->';

const fmt = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)) : '–');

async function main(): Promise<void> {
  const results = BENCHES.map((b) => readResult(b)).filter((r): r is BenchResult => r !== undefined);
  const rows: string[][] = [['metric', 'keel', 'anchor', 'anchor value', 'keel/anchor', 'better', 'commit', 'load (1 min)']];
  for (const r of results) {
    for (const m of r.metrics) {
      const load = `${r.machine.loadavg[0]}→${r.loadavgEnd[0]}`;
      const commit = r.machine.commit + (r.machine.dirty ? '+' : '');
      if (m.anchors.length === 0) rows.push([`${m.label} (${m.unit})`, fmt(m.keel), '', '', '', m.better, commit, load]);
      for (const a of m.anchors) rows.push([`${m.label} (${m.unit})`, fmt(m.keel), a.name, fmt(a.value), a.ratio.toFixed(2), m.better, commit, load]);
    }
    writeFileSync(join(RESULTS, `${r.bench}.svg`), chart(r));
  }
  console.log(table(rows));
  const missing = BENCHES.filter((b) => !results.some((r) => r.bench === b));
  if (missing.length) console.log(`no results yet for: ${missing.join(', ')}`);

  const now = machine();
  writeFileSync(
    join(RESULTS, 'latest.json'),
    JSON.stringify(
      {
        commit: now.commit,
        machine: { cpu: now.cpu, cores: now.cores, kernel: now.kernel, node: now.node },
        date: now.date,
        benches: Object.fromEntries(results.map((r) => [r.bench, { commit: r.machine.commit, dirty: r.machine.dirty, date: r.machine.date, loadavg: r.machine.loadavg, loadavgEnd: r.loadavgEnd, durationS: r.durationS, setup: r.setup, metrics: r.metrics, notes: r.notes }])),
      },
      null,
      2,
    ) + '\n',
  );

  // The markdown keeps every column but the commit (it is in the line below the table).
  const mdCols = (r: string[]) => [...r.slice(0, 6), r[7]!];
  const md = [
    `| ${mdCols(rows[0]!).join(' | ')} |`,
    `|${mdCols(rows[0]!).map((_, i) => (i === 0 || i === 2 || i === 5 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.slice(1).map((r) => `| ${mdCols(r).join(' | ')} |`),
    '',
    `${now.cpu}, ${now.cores} cores, Linux ${now.kernel}, Node ${now.node}; results of ${[...new Set(results.map((r) => r.machine.date.slice(0, 10)))].join(', ')}, commit ${[...new Set(results.map((r) => r.machine.commit))].join(', ')}. keel/anchor under 1 is keel ahead where lower is better.`,
    '',
    `Charts: ${results.map((r) => `[${r.bench}](bench/results/${r.bench}.svg)`).join(' · ')}`,
  ].join('\n');
  writeFileSync(join(RESULTS, 'latest.md'), md + '\n');
  const readme = join(REPO, 'README.md');
  if (existsSync(readme)) {
    const text = readFileSync(readme, 'utf8');
    const a = text.indexOf(START);
    const b = text.indexOf(END);
    if (a >= 0 && b > a) writeFileSync(readme, text.slice(0, a + START.length) + '\n' + md + '\n' + text.slice(b));
  }
  console.log('wrote bench/results/latest.json, latest.md and a chart per benchmark (bench/results/*.svg)');
}

runBench(main);

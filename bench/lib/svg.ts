// One horizontal bar chart per benchmark, as a standalone SVG (no dependency):
// a group of bars per metric, keel first, each bar labelled with its value.
import type { BenchResult } from './results.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function chart(r: BenchResult): string {
  const W = 760;
  const LABEL = 250;
  const BAR = 18;
  const GAP = 6;
  const barW = W - LABEL - 140;
  let y = 46;
  const parts: string[] = [];
  for (const m of r.metrics) {
    const bars = [{ name: 'keel', value: m.keel }, ...m.anchors.map((a) => ({ name: a.name, value: a.value }))];
    const max = Math.max(...bars.map((b) => b.value), 1e-9);
    parts.push(`<text x="10" y="${y + 12}" class="h">${esc(m.label)} (${esc(m.unit)}, ${m.better} is better)</text>`);
    y += 20;
    for (const b of bars) {
      const w = Math.max(1, (b.value / max) * barW);
      const keel = b.name === 'keel';
      parts.push(
        `<text x="${LABEL - 8}" y="${y + 13}" text-anchor="end">${esc(b.name)}</text>`,
        `<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${keel ? '#2b6cb0' : '#a0aec0'}"/>`,
        `<text x="${(LABEL + w + 6).toFixed(1)}" y="${y + 13}">${fmt(b.value)}${keel || m.keel === 0 ? '' : ` (keel ×${fmt(m.keel / b.value)})`}</text>`,
      );
      y += BAR + GAP;
    }
    y += 14;
  }
  const load = `load ${r.machine.loadavg.join('/')} → ${r.loadavgEnd.join('/')}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 24}" viewBox="0 0 ${W} ${y + 24}" font-family="sans-serif" font-size="12">
<style>.h{font-weight:bold}.t{font-size:15px;font-weight:bold}.f{fill:#666;font-size:11px}</style>
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" class="t">${esc(r.bench)}</text>
${parts.join('\n')}
<text x="10" y="${y + 10}" class="f">${esc(`${r.machine.commit}${r.machine.dirty ? '+' : ''} · ${r.machine.cpu}, ${r.machine.cores} cores · ${r.machine.date.slice(0, 16)}Z · ${load}`)}</text>
</svg>
`;
}

// What happened while the console was in use. Event lines are held back while
// the prompt or a shell has the console; when it gives the console back, the
// operator gets counts by kind and the lines that matter (failures, OOM kills,
// exits, warnings), not a replay of everything and not just a number.
import type { KeelEvent } from '../../events/bus.js';
import { consoleLine, paint } from './sink.js';

type Kind = 'failed' | 'OOM kill' | 'exit' | 'kernel' | 'error' | 'warning' | 'other';
const ORDER: Kind[] = ['failed', 'OOM kill', 'exit', 'kernel', 'error', 'warning', 'other'];
const MAX_LINES = 8;

function kindOf(e: KeelEvent): Kind {
  if (e.kind === 'service.state' && e.to === 'failed') return 'failed';
  if (e.oomKilled === true) return 'OOM kill';
  if (e.kind === 'service.state' && 'runMs' in e) return 'exit';
  if (e.kind === 'kernel.log') return 'kernel';
  if (e.level === 'error') return 'error';
  if (e.level === 'warn') return 'warning';
  return 'other';
}

function plural(n: number, kind: Kind): string {
  const word = kind === 'OOM kill' ? 'OOM kill' : kind === 'exit' ? 'service exit' : kind === 'kernel' ? 'kernel message' : kind === 'other' ? 'other' : kind;
  return `${n} ${word}${n === 1 || word === 'other' || word === 'failed' ? '' : 's'}`;
}

/**
 * The summary as console lines (each "keel: …\n"), or "" when nothing was held;
 * with `colour`, the lines of errors and warnings are coloured as the console colours them.
 */
export function heldSummary(events: readonly KeelEvent[], colour = false): string {
  const shown = events.filter((e) => e.level !== 'debug');
  if (shown.length === 0) return '';
  const counts = new Map<Kind, number>();
  for (const e of shown) counts.set(kindOf(e), (counts.get(kindOf(e)) ?? 0) + 1);
  const byKind = ORDER.filter((k) => counts.has(k)).map((k) => plural(counts.get(k)!, k));
  const out = [`keel: while the console was in use: ${shown.length} event line(s) held back: ${byKind.join(', ')}\n`];

  // The lines that matter: for each service and kind only the latest, with how many it stands for.
  const important = shown.filter((e) => kindOf(e) !== 'other');
  const latest = new Map<string, { event: KeelEvent; count: number }>();
  for (const e of important) {
    const key = `${kindOf(e)}/${typeof e.service === 'string' ? e.service : e.message}`;
    const seen = latest.get(key);
    latest.set(key, { event: e, count: (seen?.count ?? 0) + 1 });
  }
  const ranked = [...latest.values()].sort((a, b) => ORDER.indexOf(kindOf(a.event)) - ORDER.indexOf(kindOf(b.event)) || a.event.id - b.event.id);
  for (const { event, count } of ranked.slice(0, MAX_LINES)) {
    const text = consoleLine(event).replace(/^keel: /, '').split('\n')[0]!;
    out.push(paint(`keel:   ${text}${count > 1 ? ` (latest of ${count})` : ''}`, event.level, colour) + '\n');
  }
  if (ranked.length > MAX_LINES) out.push(`keel:   … and ${ranked.length - MAX_LINES} more\n`);
  out.push(`keel:   keel events shows them all\n`);
  return out.join('');
}

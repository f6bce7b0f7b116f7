import { parsedValue, type Spec } from './schema.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** The longest duration the manifest takes: 100 years. Longer (or infinite) values are refused, naming this limit. */
export const MAX_DURATION_MS = 100 * 365 * 24 * 3_600_000;

function bounded(ms: number): number | undefined {
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_DURATION_MS ? Math.round(ms) : undefined;
}

/**
 * Parses a duration as the manifest writes it: "100ms", "2s", "1m30s", "1.5s",
 * or a plain number of seconds. Returns milliseconds, or undefined if invalid
 * (negative, not finite, or over MAX_DURATION_MS).
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return bounded(value * 1000);
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return bounded(parseFloat(value) * 1000);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < value.length) {
    const m = PART.exec(value);
    if (!m) return undefined;
    total += parseFloat(m[1]!) * UNIT_MS[m[2]!]!;
  }
  return bounded(total);
}

/** The canonical text of a duration in ms: the form the normalized manifest stores. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

export function duration(): Spec<number> {
  return parsedValue('a duration such as "100ms", "2s", "1m30s" or a number of seconds, at most 100 years', parseDuration, formatDuration, () => ({
    oneOf: [
      { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$|^\\d+(\\.\\d+)?$' },
      { type: 'number', minimum: 0 },
    ],
  }));
}

import { parsedValue, type Spec } from './schema.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/**
 * Parses a duration as the manifest writes it: "100ms", "2s", "1m30s", "1.5s",
 * or a plain number of seconds. Returns milliseconds, or undefined if invalid.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(parseFloat(value) * 1000);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < value.length) {
    const m = PART.exec(value);
    if (!m) return undefined;
    total += parseFloat(m[1]!) * UNIT_MS[m[2]!]!;
  }
  return Math.round(total);
}

/** The canonical text of a duration in ms: the form the normalized manifest stores. */
export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function duration(): Spec<number> {
  return parsedValue('a duration such as "100ms", "2s", "1m30s" or a number of seconds', parseDuration, formatDuration, () => ({
    oneOf: [
      { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$|^\\d+(\\.\\d+)?$' },
      { type: 'number', minimum: 0 },
    ],
  }));
}

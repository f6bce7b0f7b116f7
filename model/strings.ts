// The manifest's compact string forms ("/src:/dst:ro", "nofile,100,200",
// "64m"): each parser returns the typed value or a problem, and each
// formatter writes the value back in a form its parser reads unchanged.
// Validation parses them once; nothing downstream sees the strings.
import { clip } from './schema.js';

export interface Bind {
  source: string;
  destination: string;
  options: string[];
}

/** A name in the manifest's volumes section. */
export const VOLUME_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/**
 * "src:dst[:opt,opt]" as LinuxKit and `docker -v` write it. Default options
 * rw,rbind,rshared. The source is an absolute path, or the name of a volume
 * (keel build turns it into the volume's path).
 */
export function parseBind(text: string): Bind | string {
  const parts = text.split(':');
  if (parts.length < 2) return 'missing ":" between source and destination';
  if (parts.length > 3) return 'too many ":"';
  const [source, destination, opts] = parts as [string, string, string | undefined];
  if (!(source.startsWith('/') || VOLUME_NAME.test(source)) || !destination.startsWith('/')) return 'the source must be an absolute path or a volume name, and the destination an absolute path';
  const options = opts === undefined ? ['rw', 'rbind', 'rshared'] : [...opts.split(',').filter((o) => o !== ''), 'rbind'];
  return { source, destination, options: [...new Set(options)] };
}

export function formatBind(b: Bind): string {
  return `${b.source}:${b.destination}:${b.options.join(',')}`;
}

export interface Tmpfs {
  destination: string;
  options: string[];
}

/** "dst[:opt,opt]". */
export function parseTmpfs(text: string): Tmpfs | string {
  const parts = text.split(':');
  if (parts.length > 2) return 'too many ":"';
  const [destination, opts] = parts as [string, string | undefined];
  if (!destination.startsWith('/')) return 'the destination must be an absolute path';
  return { destination, options: opts ? opts.split(',').filter((o) => o !== '') : [] };
}

export function formatTmpfs(t: Tmpfs): string {
  return t.options.length ? `${t.destination}:${t.options.join(',')}` : t.destination;
}

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

const RLIMITS = new Set(['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS', 'SIGPENDING', 'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME']);
/** "unlimited": OCI writes it as 2^64-1, which a double cannot hold, so the config writer spells it out. */
export const RLIM_INFINITY = -1;

/** "nofile,100,200" or "RLIMIT_NOFILE,unlimited,unlimited". */
export function parseRlimit(text: string): Rlimit | string {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length !== 3) return 'expected NAME,SOFT,HARD';
  const name = parts[0]!.toUpperCase().replace(/^RLIMIT_/, '');
  if (!RLIMITS.has(name)) return `unknown limit ${clip(parts[0]!)} (one of ${[...RLIMITS].map((r) => r.toLowerCase()).join(', ')})`;
  const num = (s: string) => (s.toLowerCase() === 'unlimited' ? RLIM_INFINITY : /^\d+$/.test(s) ? Number(s) : NaN);
  const soft = num(parts[1]!);
  const hard = num(parts[2]!);
  if (Number.isNaN(soft) || Number.isNaN(hard)) return 'soft and hard must be numbers or "unlimited"';
  const rank = (v: number) => (v === RLIM_INFINITY ? Infinity : v);
  if (rank(soft) > rank(hard)) return 'the soft limit is above the hard limit';
  return { type: `RLIMIT_${name}`, soft, hard };
}

export function formatRlimit(r: Rlimit): string {
  const n = (v: number) => (v === RLIM_INFINITY ? 'unlimited' : String(v));
  return `${r.type.replace(/^RLIMIT_/, '').toLowerCase()},${n(r.soft)},${n(r.hard)}`;
}

/** "KEY=value" (an entry without "=" is kept as LinuxKit does, but must have a name). */
export function checkEnv(text: string): string | undefined {
  return /^[^=\s][^=]*=/.test(text) ? undefined : 'expected NAME=value';
}

/** What happens after a service's container exits (Docker's words). */
export type RestartPolicy = { policy: 'no' | 'always' | 'unless-stopped' } | { policy: 'on-failure'; maxRetries?: number };

/** "no", "always", "unless-stopped", "on-failure" or "on-failure:N". */
export function parseRestart(text: string): RestartPolicy | string {
  if (text === 'no' || text === 'always' || text === 'unless-stopped') return { policy: text };
  const m = /^on-failure(?::(\d+))?$/.exec(text);
  if (!m) return 'not a restart policy';
  return m[1] !== undefined ? { policy: 'on-failure', maxRetries: Number(m[1]) } : { policy: 'on-failure' };
}

export function formatRestart(p: RestartPolicy): string {
  return p.policy === 'on-failure' && p.maxRetries !== undefined ? `on-failure:${p.maxRetries}` : p.policy;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** A byte count: a number, or "64m", "1.5G", "512k". */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?b?)$/i.exec(value.trim());
  if (!m) return undefined;
  return Math.round(parseFloat(m[1]!) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

// The CLI verbs that talk to a running keel through its control API.
import { parseArgs } from 'node:util';
import { callJson, DEFAULT_SOCKET, streamLines } from '../client.js';
import { attach } from './attach.js';
import { ControlUsage } from './usage-error.js';
import type { ActionReply, BootReport, ServiceDetail, ServiceSummary, StatsReply } from '../wire.js';

export { ControlUsage };

/** The verbs the console prompt runs in-process too. */
export const PROMPT_VERBS = ['ps', 'inspect', 'logs', 'start', 'stop', 'restart', 'reset', 'events', 'stats', 'boot-report', 'poweroff', 'reboot'] as const;
/** Every verb that talks to a running keel; exec and console attach the local terminal (the prompt has its own exec). */
export const CONTROL_VERBS = [...PROMPT_VERBS, 'exec', 'console'] as const;
export type ControlVerb = (typeof CONTROL_VERBS)[number];

export interface ControlOptions {
  /** Receives a function that ends a following command (the console prompt's ctrl-c); the CLI uses SIGINT. */
  onStop?: (stop: () => void) => void;
  /** Where the verb's text goes: stdout for the CLI, the prompt's terminal in keel-init. */
  write?: (text: string) => void;
}

const stdout = (s: string) => void process.stdout.write(s);

type Summary = Pick<ServiceSummary, 'name' | 'state' | 'reason' | 'pid' | 'health' | 'restarts' | 'startedAt' | 'nextRetryAt' | 'lastExit'>;

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function lastExitText(e: Summary['lastExit']): string {
  if (!e) return '';
  if (e.error) return `could not start: ${e.error}`;
  if (e.oomKilled) return 'last: OOM-killed';
  return e.signal ? `last: ${e.signal}` : `last: exit ${e.code}`;
}

export function psTable(list: Summary[], now = Date.now()): string {
  const rows = [['NAME', 'STATE', 'PID', 'RESTARTS', 'UP', 'INFO']];
  for (const s of list) {
    const info = s.state === 'backoff' && s.nextRetryAt ? `retry in ${ago(s.nextRetryAt - now)}; ${lastExitText(s.lastExit)}` : s.reason || lastExitText(s.lastExit);
    rows.push([s.name, s.health && s.health !== 'unknown' ? `${s.state} (${s.health})` : s.state, s.pid ? String(s.pid) : '-', String(s.restarts), s.startedAt ? ago(now - s.startedAt) : '-', info]);
  }
  return table(rows);
}

function eventText(line: string): string {
  try {
    const e = JSON.parse(line) as { id?: number; time?: number; message?: string; level?: string };
    const t = e.time ? new Date(e.time).toISOString().slice(11, 23) : '';
    return `${e.id ?? '-'} ${t} ${e.level && e.level !== 'info' ? `${e.level}: ` : ''}${e.message ?? line}`;
  } catch {
    return line;
  }
}

const OPTIONS = {
  socket: { type: 'string' },
  json: { type: 'boolean', default: false },
  follow: { type: 'boolean', short: 'f', default: false },
  previous: { type: 'boolean', short: 'p', default: false },
  tail: { type: 'string', short: 'n' },
  since: { type: 'string' },
  wait: { type: 'boolean', default: false },
} as const;

interface VerbContext {
  socket: string;
  /** The service name as typed, and as it goes into a path. */
  name: string;
  path: string;
  values: { json: boolean; follow: boolean; previous: boolean; tail?: string; since?: string; wait: boolean };
  out: (s: string) => void;
  /** JSON with --json, else the text. */
  show: (value: unknown, text: () => string) => void;
  /** Follows a stream until it ends or is stopped (ctrl-c). */
  follow: (path: string, onLine: (line: string) => void) => Promise<void>;
}

interface VerbSpec {
  needsName: boolean;
  run(ctx: VerbContext): Promise<void>;
}

function action(verb: 'start' | 'stop' | 'restart' | 'reset'): VerbSpec {
  return {
    needsName: true,
    async run({ socket, name, path, values, show }) {
      const r = await callJson<ActionReply>(socket, 'POST', `/v1/services/${path}/${verb}${values.wait ? '?wait=1' : ''}`);
      show(r, () => `${name}: ${verb} requested (state ${r.state})`);
    },
  };
}

function statsTable(st: StatsReply): string {
  const mb = (n?: number) => (n === undefined ? '-' : `${(n / 2 ** 20).toFixed(1)}M`);
  const rows = [['NAME', 'MEM', 'PEAK', 'CPU', 'THROTTLED', 'PIDS']];
  for (const [n, v] of Object.entries(st)) {
    rows.push(v ? [n, mb(v.memoryBytes), mb(v.memoryPeakBytes), v.cpuUsageUsec !== undefined ? `${(v.cpuUsageUsec / 1e6).toFixed(2)}s` : '-', String(v.cpuThrottledPeriods ?? '-'), String(v.pids ?? '-')] : [n, '-', '-', '-', '-', '-']);
  }
  return table(rows);
}

function power(verb: 'poweroff' | 'reboot'): VerbSpec {
  return {
    needsName: false,
    async run({ socket, show }) {
      await callJson(socket, 'POST', `/v1/${verb}`);
      show({ action: verb }, () => `${verb} requested`);
    },
  };
}

const VERBS: Record<(typeof PROMPT_VERBS)[number], VerbSpec> = {
  ps: {
    needsName: false,
    async run({ socket, show }) {
      const list = await callJson<ServiceSummary[]>(socket, 'GET', '/v1/services');
      show(list, () => (list.length ? psTable(list) : 'no services'));
    },
  },
  inspect: {
    needsName: true,
    async run({ socket, path, out }) {
      out(JSON.stringify(await callJson<ServiceDetail>(socket, 'GET', `/v1/services/${path}`), null, 2));
    },
  },
  logs: {
    needsName: true,
    run({ path, values, out, follow }) {
      const q = new URLSearchParams();
      if (values.follow) q.set('follow', '1');
      if (values.previous) q.set('previous', '1');
      if (values.tail !== undefined) q.set('tail', values.tail);
      if (values.json) q.set('format', 'json');
      return follow(`/v1/services/${path}/logs?${q}`, out);
    },
  },
  events: {
    needsName: false,
    run({ values, out, follow }) {
      const q = new URLSearchParams({ since: values.since ?? '0' });
      if (values.follow) q.set('follow', '1');
      return follow(`/v1/events?${q}`, (l) => out(values.json ? l : eventText(l)));
    },
  },
  start: action('start'),
  stop: action('stop'),
  restart: action('restart'),
  reset: action('reset'),
  stats: {
    needsName: false,
    async run({ socket, show }) {
      const st = await callJson<StatsReply>(socket, 'GET', '/v1/stats');
      show(st, () => statsTable(st));
    },
  },
  'boot-report': {
    needsName: false,
    async run({ socket, out }) {
      out(JSON.stringify(await callJson<BootReport>(socket, 'GET', '/v1/boot'), null, 2));
    },
  },
  poweroff: power('poweroff'),
  reboot: power('reboot'),
};

export async function runControl(verb: ControlVerb, argv: string[], opts: ControlOptions = {}): Promise<number> {
  if (verb === 'exec' || verb === 'console') return attach(verb, argv);
  const write = opts.write ?? stdout;
  const out = (s: string) => write(s.endsWith('\n') ? s : `${s}\n`);
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const spec = VERBS[verb];
  if (spec.needsName && positionals.length !== 1) throw new ControlUsage(`keel ${verb} needs one service name`);
  if (!spec.needsName && positionals.length !== 0) throw new ControlUsage(`keel ${verb} takes no names`);
  const socket = values.socket ?? process.env.KEEL_SOCKET ?? DEFAULT_SOCKET;
  const name = positionals[0] ?? '';
  await spec.run({
    socket,
    name,
    path: encodeURIComponent(name),
    values,
    out,
    show: (v, text) => out(values.json ? JSON.stringify(v, null, 2) : text()),
    async follow(path, onLine) {
      const s = streamLines(socket, path, onLine);
      if (opts.onStop) opts.onStop(s.stop);
      else process.once('SIGINT', s.stop);
      await s.done;
    },
  });
  return 0;
}

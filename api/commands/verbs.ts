// The CLI verbs that talk to a running keel through its control API, run
// from their table entries (control-specs.ts) by the CLI and the console prompt.
import { visible } from '../../events/visible.js';
import { callJson, defaultSocket, streamLines } from '../client.js';
import { parseVerbArgs, type ParsedArgs } from './args.js';
import { attach } from './attach.js';
import { CONTROL_SPECS, controlSpec } from './control-specs.js';
import { verbHelp } from './help.js';
import { UsageError } from './usage-error.js';
import type { ActionReply, BootReport, ServiceDetail, ServiceSummary, StatsReply } from '../wire.js';

export { UsageError };

/** The verbs the console prompt runs in-process too (it has its own exec, and is the console). */
export const PROMPT_VERBS = ['ps', 'inspect', 'logs', 'start', 'stop', 'restart', 'reset', 'events', 'stats', 'boot-report', 'poweroff', 'reboot'] as const;
/** Every verb that talks to a running keel; exec and console attach the local terminal. */
export const CONTROL_VERBS: readonly string[] = CONTROL_SPECS.map((v) => v.name);
type PromptVerb = (typeof PROMPT_VERBS)[number];

export interface ControlOptions {
  /** Receives a function that ends a following command (the console prompt's ctrl-c); the CLI uses SIGINT. */
  onStop?: (stop: () => void) => void;
  /** Where the verb's text goes: stdout for the CLI, the prompt's terminal in keel-init. */
  write?: (text: string) => void;
  /** The socket when --socket does not say (a VM's, for keel --vm): asked only once help is ruled out. */
  socket?: () => string;
  /** Checked before the verb runs (keel --vm: that keel inside the VM answers at all); throws ApiUnreachable if not. */
  ready?: (socket: string) => Promise<void>;
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
    rows.push([s.name, s.health && s.health !== 'unknown' ? `${s.state} (${s.health})` : s.state, s.pid ? String(s.pid) : '-', String(s.restarts), s.startedAt ? ago(now - s.startedAt) : '-', visible(info)]);
  }
  return table(rows);
}

function eventText(line: string): string {
  try {
    const e = JSON.parse(line) as { id?: number; time?: number; message?: string; level?: string };
    const t = e.time ? new Date(e.time).toISOString().slice(11, 23) : '';
    return `${e.id ?? '-'} ${t} ${e.level && e.level !== 'info' ? `${e.level}: ` : ''}${visible(e.message ?? line)}`;
  } catch {
    return visible(line);
  }
}

interface VerbContext {
  socket: string;
  /** The service name as typed, and as it goes into a path. */
  name: string;
  path: string;
  args: ParsedArgs;
  out: (s: string) => void;
  /** JSON with --json, else the text. */
  show: (value: unknown, text: () => string) => void;
  /** Follows a stream until it ends or is stopped (ctrl-c). */
  follow: (path: string, onLine: (line: string) => void) => Promise<void>;
}

type VerbRun = (ctx: VerbContext) => Promise<void>;

function action(verb: 'start' | 'stop' | 'restart' | 'reset'): VerbRun {
  return async ({ socket, name, path, args, show }) => {
    const r = await callJson<ActionReply>(socket, 'POST', `/v1/services/${path}/${verb}${args.flag('wait') ? '?wait=1' : ''}`);
    show(r, () => `${name}: ${verb} requested (state ${r.state})`);
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

function power(verb: 'poweroff' | 'reboot'): VerbRun {
  return async ({ socket, out }) => {
    await callJson(socket, 'POST', `/v1/${verb}`);
    out(`${verb} requested`);
  };
}

const RUNS: Record<PromptVerb, VerbRun> = {
  async ps({ socket, args, show, out }) {
    const list = await callJson<ServiceSummary[]>(socket, 'GET', '/v1/services');
    if (args.flag('quiet')) return list.forEach((s) => out(s.name));
    show(list, () => (list.length ? psTable(list) : 'no services'));
  },
  async inspect({ socket, name, path, out }) {
    if (!name) throw new UsageError('needs a service name (keel --vm VM inspect, without one, shows the VM)', 'inspect');
    out(JSON.stringify(await callJson<ServiceDetail>(socket, 'GET', `/v1/services/${path}`), null, 2));
  },
  logs({ path, args, out, follow }) {
    const q = new URLSearchParams();
    if (args.flag('follow')) q.set('follow', '1');
    if (args.flag('previous')) q.set('previous', '1');
    const tail = args.string('tail');
    if (tail !== undefined) {
      if (!/^\d+$/.test(tail)) throw new UsageError(`--tail ${tail}: expected a number of lines`, 'logs');
      q.set('tail', tail);
    }
    if (args.flag('json')) q.set('format', 'json');
    return follow(`/v1/services/${path}/logs?${q}`, out);
  },
  events({ args, out, follow }) {
    const since = args.string('since') ?? '0';
    if (!/^\d+$/.test(since)) throw new UsageError(`--since ${since}: expected an event id (a number)`, 'events');
    const q = new URLSearchParams({ since });
    if (args.flag('follow')) q.set('follow', '1');
    const json = args.flag('json');
    return follow(`/v1/events?${q}`, (l) => out(json ? l : eventText(l)));
  },
  start: action('start'),
  stop: action('stop'),
  restart: action('restart'),
  reset: action('reset'),
  async stats({ socket, show }) {
    const st = await callJson<StatsReply>(socket, 'GET', '/v1/stats');
    show(st, () => statsTable(st));
  },
  async 'boot-report'({ socket, out }) {
    out(JSON.stringify(await callJson<BootReport>(socket, 'GET', '/v1/boot'), null, 2));
  },
  poweroff: power('poweroff'),
  reboot: power('reboot'),
};

/** Runs a control verb: its --help, or the verb against the socket (--socket, $KEEL_SOCKET, else the default). */
export async function runControl(verb: string, argv: string[], opts: ControlOptions = {}): Promise<number> {
  const spec = controlSpec(verb);
  if (!spec) throw new UsageError(`unknown command "${verb}"`);
  const write = opts.write ?? stdout;
  const out = (s: string) => write(s.endsWith('\n') ? s : `${s}\n`);
  const args = parseVerbArgs(spec, argv);
  if (args.help) {
    out(verbHelp(spec));
    return 0;
  }
  const socket = args.string('socket') ?? opts.socket?.() ?? process.env.KEEL_SOCKET ?? defaultSocket();
  await opts.ready?.(socket);
  if (verb === 'exec' || verb === 'console') return attach(verb, socket, args.positionals);
  const name = args.positionals[0] ?? '';
  const json = spec.options.some((o) => o.name === 'json') && args.flag('json');
  await RUNS[verb as PromptVerb]({
    socket,
    name,
    path: encodeURIComponent(name),
    args,
    out,
    show: (v, text) => out(json ? JSON.stringify(v, null, 2) : text()),
    async follow(path, onLine) {
      const s = streamLines(socket, path, onLine);
      if (opts.onStop) opts.onStop(s.stop);
      else process.once('SIGINT', s.stop);
      await s.done;
    },
  });
  return 0;
}

// The control API's routes, as a table: method, path pattern, handler. The
// server matches a request against it; a path that matches with another
// method is a 405, one that matches nothing a 404.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus, KeelEvent } from '../events/bus.js';
import { logLineText, type LogLine } from '../services/log-ring.js';
import type { Service } from '../services/service.js';
import type { Supervisor } from '../services/supervisor.js';
import { HAS_CONTAINER } from '../services/states.js';
import { HttpError, openStream, send } from './http.js';
import type { Terminals } from './terminals.js';
import type { ActionReply, BootReport, ServiceDetail, StatsReply } from './wire.js';

export interface ApiDeps {
  bus: EventBus;
  supervisor: () => Supervisor | undefined;
  bootReport: () => BootReport;
  power: (action: 'poweroff' | 'reboot') => void;
  /** Where a service's output goes instead of its log, when it does not pass through keel (a container's CMD). */
  outputElsewhere?: (service: string) => string | undefined;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  deps: ApiDeps;
  terminals: Terminals;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Segments; ":name" matches any one segment and names it. */
  path: string;
  handle(ctx: RouteContext): Promise<void> | void;
}

function service(ctx: RouteContext): Service {
  const s = ctx.deps.supervisor()?.get(ctx.params.name!);
  if (!s) throw new HttpError(404, `no service named "${ctx.params.name}"`);
  return s;
}

const ACTIONS = { start: (s: Service) => s.start(), stop: (s: Service) => s.stop(), restart: (s: Service) => s.restartNow(), reset: (s: Service) => s.reset() };

function action(verb: keyof typeof ACTIONS): Route {
  return {
    method: 'POST',
    path: `/v1/services/:name/${verb}`,
    async handle(ctx) {
      const s = service(ctx);
      // A start now would come after the services' stop, and outlive it.
      if (verb !== 'stop' && ctx.deps.supervisor()?.stopping) throw new HttpError(409, `keel is shutting down: ${s.name} does not ${verb === 'reset' ? 'start' : verb} now`);
      // The operation runs on its own; the reply says it was accepted, and events tell the rest.
      const op = ACTIONS[verb](s);
      if (ctx.query.get('wait') === '1') await op;
      else void op.catch(() => undefined);
      send(ctx.res, 202, { service: s.name, action: verb, state: s.state } satisfies ActionReply);
    },
  };
}

function logs(ctx: RouteContext): void {
  const s = service(ctx);
  const elsewhere = ctx.deps.outputElsewhere?.(s.name);
  if (elsewhere) throw new HttpError(409, elsewhere);
  const q = ctx.query;
  const previous = q.get('previous') === '1';
  const attempt = previous ? (HAS_CONTAINER.includes(s.state) ? s.attempt - 1 : s.exits.at(-1)?.attempt) : undefined;
  if (previous && (attempt === undefined || attempt < 1)) throw new HttpError(404, `${s.name} has no previous attempt`);
  const tail = q.has('tail') ? Number(q.get('tail')) : undefined;
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new HttpError(400, 'tail must be a whole number');
  const json = q.get('format') === 'json';
  const fmt = (l: LogLine) => (json ? JSON.stringify(l) + '\n' : logLineText(l));
  const notice = (n: number) => {
    const message = `${n} line(s) dropped here: this client read more slowly than they came`;
    return json ? JSON.stringify({ dropped: n, message }) + '\n' : `${new Date().toISOString()} keel ${message}\n`;
  };
  const stream = openStream(ctx.req, ctx.res, json ? 'application/x-ndjson' : 'text/plain; charset=utf-8', notice);
  const kept = s.logs.read({ ...(attempt !== undefined ? { attempt } : {}), ...(tail !== undefined ? { tail } : {}) }).map(fmt);
  // Followed from the same moment the kept lines were read: none missed, none twice.
  const follow = q.get('follow') === '1' && attempt === undefined;
  if (follow) stream.onClose(s.logs.follow((l) => stream.write(fmt(l))));
  stream.replay(kept, follow ? undefined : () => ctx.res.end());
}

function events(ctx: RouteContext): void {
  const since = Number(ctx.query.get('since') ?? 0);
  if (!Number.isInteger(since) || since < 0) throw new HttpError(400, 'since must be an event id (a whole number)');
  // Events dropped for a slow client are named by their ids, so it can ask for them again.
  let lost: { from: number; to: number } | undefined;
  const notice = () => {
    const l = lost!;
    lost = undefined;
    return JSON.stringify({ kind: 'events.lost', from: l.from, to: l.to, message: `events ${l.from}..${l.to} were dropped: this client read more slowly than they came; ask again with since=${l.from - 1}` }) + '\n';
  };
  const stream = openStream(ctx.req, ctx.res, 'application/x-ndjson', notice);
  const backlog = ctx.deps.bus.since(since);
  // Say so when events the client asked for are no longer kept: never a silent gap.
  if (backlog.length > 0 && backlog[0]!.id > since + 1 && since > 0) {
    stream.write(JSON.stringify({ kind: 'events.lost', from: since + 1, to: backlog[0]!.id - 1, message: `events ${since + 1}..${backlog[0]!.id - 1} are no longer kept` }) + '\n');
  }
  let lastId = since;
  const put = (e: KeelEvent) => {
    if (e.id <= lastId) return;
    lastId = e.id;
    if (!stream.write(JSON.stringify(e) + '\n')) lost = { from: lost?.from ?? e.id, to: e.id };
  };
  // The kept events go whole, as fast as the client reads them; those that come meanwhile follow them.
  lastId = backlog.at(-1)?.id ?? since;
  const follow = ctx.query.get('follow') === '1';
  if (follow) stream.onClose(ctx.deps.bus.subscribe(put));
  stream.replay(backlog.map((e) => JSON.stringify(e) + '\n'), follow ? undefined : () => ctx.res.end());
}

function terminalOnly(what: string): Route['handle'] {
  return (ctx) => {
    throw new HttpError(400, `${ctx.req.url?.split('?')[0]} is a terminal: send it with "Connection: Upgrade" and "Upgrade: tty" (keel ${what} does)`);
  };
}

function power(action: 'poweroff' | 'reboot'): Route {
  return {
    method: 'POST',
    path: `/v1/${action}`,
    handle(ctx) {
      send(ctx.res, 202, { action });
      setImmediate(() => ctx.deps.power(action));
    },
  };
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/services', handle: (ctx) => send(ctx.res, 200, [...(ctx.deps.supervisor()?.services.values() ?? [])].map((s) => s.summary())) },
  {
    method: 'GET',
    path: '/v1/services/:name',
    handle(ctx) {
      const s = service(ctx);
      send(ctx.res, 200, { ...s.summary(), exits: s.exits, droppedLogLines: s.logs.dropped, config: s.entry } satisfies ServiceDetail);
    },
  },
  action('start'),
  action('stop'),
  action('restart'),
  action('reset'),
  { method: 'GET', path: '/v1/services/:name/logs', handle: logs },
  { method: 'POST', path: '/v1/services/:name/exec', handle: terminalOnly('exec NAME') },
  { method: 'POST', path: '/v1/console', handle: terminalOnly('console') },
  { method: 'GET', path: '/v1/events', handle: events },
  { method: 'GET', path: '/v1/ttys/:id', handle: (ctx) => send(ctx.res, 200, ctx.terminals.status(ctx.params.id!)) },
  { method: 'POST', path: '/v1/ttys/:id/resize', handle: (ctx) => send(ctx.res, 200, ctx.terminals.resize(ctx.params.id!, ctx.query)) },
  { method: 'POST', path: '/v1/ttys/:id/eof', handle: (ctx) => send(ctx.res, 200, ctx.terminals.endInput(ctx.params.id!, ctx.query)) },
  {
    method: 'GET',
    path: '/v1/stats',
    handle(ctx) {
      const out: StatsReply = {};
      for (const s of ctx.deps.supervisor()?.services.values() ?? []) out[s.name] = s.stats() ?? null;
      send(ctx.res, 200, out);
    },
  },
  { method: 'GET', path: '/v1/boot', handle: (ctx) => send(ctx.res, 200, ctx.deps.bootReport()) },
  power('poweroff'),
  power('reboot'),
];

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `${JSON.stringify(segment)} in the path is not valid percent-encoding`);
  }
}

/** The path's parameters if `pattern` matches it. */
function match(pattern: string, parts: string[]): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  if (want.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i]!.startsWith(':')) params[want[i]!.slice(1)] = decodeSegment(parts[i]!);
    else if (want[i] !== parts[i]) return undefined;
  }
  return params;
}

/** The route for a request, or the HttpError that answers it. */
export function findRoute(method: string, pathname: string): { route: Route; params: Record<string, string> } {
  const parts = pathname.split('/').filter(Boolean);
  if (parts[0] !== 'v1') throw new HttpError(404, `unknown path ${pathname}; the API lives under /v1`);
  let other: Route | undefined;
  for (const route of ROUTES) {
    const params = match(route.path, parts);
    if (!params) continue;
    if (route.method === method) return { route, params };
    other ??= route;
  }
  if (other) throw new HttpError(405, `${pathname} takes ${other.method}, not ${method}`);
  throw new HttpError(404, `unknown path ${pathname}`);
}

// The control API: HTTP/1.1 on a unix socket (mode 0600: root only), JSON
// bodies, usable with `curl --unix-socket`. Every request is contained: a bad
// one gets a clear HTTP error and nothing it does can reach PID 1's loop.
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { cgroupStats } from '../runtime/cgroups.js';
import type { EventBus, KeelEvent } from '../events/bus.js';
import type { LogLine } from '../services/log-ring.js';
import type { Service, ServiceDetail } from '../services/service.js';
import type { Supervisor } from '../services/supervisor.js';
import { Terminals, TtyError, type TerminalHost } from './terminals.js';

export const MAX_BODY = 64 * 1024;

export interface ApiDeps {
  bus: EventBus;
  supervisor: () => Supervisor | undefined;
  bootReport: () => Record<string, unknown>;
  power: (action: 'poweroff' | 'reboot') => void;
  /** The console prompt and exec for remote attach (keel-init's); without it those answer 503. */
  terminals?: TerminalHost;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a (small) request body; a larger one is refused before it is read. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY) return reject(new HttpError(413, `request body over ${MAX_BODY} bytes`));
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function logLineText(l: LogLine): string {
  return `${new Date(l.time).toISOString()} ${l.stream} #${l.attempt} ${l.line}\n`;
}

/** Streams newline-delimited JSON (or text) until the client goes away. */
function openStream(req: IncomingMessage, res: ServerResponse, contentType: string): { write: (s: string) => void; onClose: (f: () => void) => void } {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  const closers: Array<() => void> = [];
  const close = () => closers.splice(0).forEach((f) => f());
  req.on('close', close);
  res.on('error', close);
  return {
    write: (s) => {
      if (!res.destroyed) res.write(s);
    },
    onClose: (f) => closers.push(f),
  };
}

export class ControlApi {
  private server: Server | undefined;
  private readonly terminals: Terminals;

  constructor(private readonly deps: ApiDeps) {
    this.terminals = new Terminals(() => deps.terminals, () => deps.supervisor());
  }

  private service(name: string): Service {
    const s = this.deps.supervisor()?.get(name);
    if (!s) throw new HttpError(404, `no service named "${name}"`);
    return s;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://keel');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    const q = url.searchParams;
    if (parts[0] !== 'v1') throw new HttpError(404, `unknown path ${url.pathname}; the API lives under /v1`);
    const [, what, name, verb] = parts;
    const want = (m: string) => {
      if (method !== m) throw new HttpError(405, `${url.pathname} takes ${m}, not ${method}`);
    };
    if (method === 'POST') {
      const body = await readBody(req);
      if (body.trim() !== '') {
        try {
          JSON.parse(body);
        } catch {
          throw new HttpError(400, 'the request body is not valid JSON');
        }
      }
    }

    if (what === 'services' && name === undefined) {
      want('GET');
      return send(res, 200, [...(this.deps.supervisor()?.services.values() ?? [])].map((s) => s.summary()));
    }
    if (what === 'services' && name !== undefined && verb === undefined) {
      want('GET');
      const s = this.service(name);
      const detail: ServiceDetail & { config: unknown } = { ...s.summary(), exits: s.exits, droppedLogLines: s.logs.dropped, config: s.entry };
      return send(res, 200, detail);
    }
    if (what === 'services' && name !== undefined && ['start', 'stop', 'restart', 'reset'].includes(verb ?? '')) {
      want('POST');
      const s = this.service(name);
      // The operation runs on its own; the reply says it was accepted, and events tell the rest.
      const op = verb === 'start' ? s.start() : verb === 'stop' ? s.stop() : verb === 'restart' ? s.restartNow() : s.reset();
      if (q.get('wait') === '1') await op;
      else void op.catch(() => undefined);
      return send(res, 202, { service: name, action: verb, state: s.state });
    }
    if (what === 'services' && name !== undefined && verb === 'logs') {
      want('GET');
      const s = this.service(name);
      const last = s.exits.at(-1)?.attempt;
      const attempt = q.get('previous') === '1' ? (s.state === 'running' || s.state === 'ready' || s.state === 'stopping' ? s.attempt - 1 : last) : undefined;
      if (q.get('previous') === '1' && (attempt === undefined || attempt < 1)) throw new HttpError(404, `${name} has no previous attempt`);
      const tail = q.has('tail') ? Number(q.get('tail')) : undefined;
      if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new HttpError(400, 'tail must be a whole number');
      const json = q.get('format') === 'json';
      const fmt = (l: LogLine) => (json ? JSON.stringify(l) + '\n' : logLineText(l));
      const stream = openStream(req, res, json ? 'application/x-ndjson' : 'text/plain; charset=utf-8');
      for (const l of s.logs.read({ ...(attempt !== undefined ? { attempt } : {}), ...(tail !== undefined ? { tail } : {}) })) stream.write(fmt(l));
      if (q.get('follow') === '1' && attempt === undefined) {
        stream.onClose(s.logs.follow((l) => stream.write(fmt(l))));
        return;
      }
      res.end();
      return;
    }
    if (what === 'events') {
      want('GET');
      const since = Number(q.get('since') ?? 0);
      if (!Number.isInteger(since) || since < 0) throw new HttpError(400, 'since must be an event id (a whole number)');
      const stream = openStream(req, res, 'application/x-ndjson');
      const backlog = this.deps.bus.since(since);
      // Say so when events the client asked for are no longer kept: never a silent gap.
      if (backlog.length > 0 && backlog[0]!.id > since + 1 && since > 0) {
        stream.write(JSON.stringify({ kind: 'events.lost', from: since + 1, to: backlog[0]!.id - 1, message: `events ${since + 1}..${backlog[0]!.id - 1} are no longer kept` }) + '\n');
      }
      let lastId = since;
      const put = (e: KeelEvent) => {
        if (e.id <= lastId) return;
        lastId = e.id;
        stream.write(JSON.stringify(e) + '\n');
      };
      backlog.forEach(put);
      if (q.get('follow') === '1') stream.onClose(this.deps.bus.subscribe(put));
      else res.end();
      return;
    }
    if (what === 'console' || (what === 'services' && verb === 'exec')) {
      throw new HttpError(400, `${url.pathname} is a terminal: send it with "Connection: Upgrade" and "Upgrade: tty" (keel ${what === 'console' ? 'console' : 'exec NAME'} does)`);
    }
    if (what === 'ttys' && name !== undefined && verb === undefined) {
      want('GET');
      return send(res, 200, this.terminals.status(name));
    }
    if (what === 'ttys' && name !== undefined && verb === 'resize') {
      want('POST');
      return send(res, 200, this.terminals.resize(name, q));
    }
    if (what === 'ttys' && name !== undefined && verb === 'eof') {
      want('POST');
      return send(res, 200, this.terminals.endInput(name, q));
    }
    if (what === 'stats') {
      want('GET');
      const out: Record<string, unknown> = {};
      for (const s of this.deps.supervisor()?.services.values() ?? []) out[s.name] = s.cgroupsPath && s.pid ? cgroupStats(s.cgroupsPath) : null;
      return send(res, 200, out);
    }
    if (what === 'boot') {
      want('GET');
      return send(res, 200, this.deps.bootReport());
    }
    if (what === 'poweroff' || what === 'reboot') {
      want('POST');
      send(res, 202, { action: what });
      setImmediate(() => this.deps.power(what));
      return;
    }
    throw new HttpError(404, `unknown path ${url.pathname}`);
  }

  listen(path: string): Promise<void> {
    if (existsSync(path)) rmSync(path, { force: true }); // a socket left by an earlier run
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError || err instanceof TtyError ? err.status : 500;
        send(res, status, { error: (err as Error).message ?? String(err) });
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.terminals.upgrade(req, socket, head));
    // Garbage that is not HTTP: answer 400 and close, never throw.
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 0; // follow streams stay open
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // The socket is created with the umask; tighten it before anyone can connect.
      const old = process.umask(0o177);
      server.listen(path, () => {
        process.umask(old);
        chmodSync(path, 0o600);
        resolve();
      });
    });
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}

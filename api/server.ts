// The control API: HTTP/1.1 on a unix socket (mode 0600: root only), JSON
// bodies, usable with `curl --unix-socket`. Requests go through the route
// table (routes.ts). Every request is contained: a bad one gets a clear HTTP
// error and nothing it does can reach PID 1's loop.
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError, readBody, send } from './http.js';
import { findRoute, type ApiDeps } from './routes.js';
import { Terminals, TtyError, type TerminalHost } from './terminals.js';

export type { ApiDeps } from './routes.js';

export interface ControlApiDeps extends ApiDeps {
  /** The console prompt and exec for remote attach (keel-init's); without it those answer 503. */
  terminals?: TerminalHost;
}

export class ControlApi {
  private server: Server | undefined;
  private readonly terminals: Terminals;

  constructor(private readonly deps: ControlApiDeps) {
    this.terminals = new Terminals(() => deps.terminals, () => deps.supervisor());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://keel');
    const method = req.method ?? 'GET';
    const { route, params } = findRoute(method, url.pathname);
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
    await route.handle({ req, res, params, query: url.searchParams, deps: this.deps, terminals: this.terminals });
  }

  listen(path: string): Promise<void> {
    if (existsSync(path)) rmSync(path, { force: true }); // a socket left by an earlier run
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
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

// The control API: HTTP/1.1 on a unix socket (mode 0600: root only), JSON
// bodies, usable with `curl --unix-socket`. Requests go through the route
// table (routes.ts). Every request is contained: a bad one gets a clear HTTP
// error and nothing it does can reach PID 1's loop. Every connection is
// bounded too: in number (each holds a file descriptor that starting a
// container may need), and in time until its request has arrived.
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { HttpError, readBody, requestUrl, send } from './http.js';
import { findRoute, type ApiDeps } from './routes.js';
import { Terminals, TtyError, type TerminalHost } from './terminals.js';

export type { ApiDeps } from './routes.js';

export interface ControlApiDeps extends ApiDeps {
  /** The console prompt and exec for remote attach (keel-init's); without it those answer 503. */
  terminals?: TerminalHost;
  /** Concurrent connections at most (connectionCap of keel's open-file limit); more are closed as they come. */
  maxConnections?: number;
  /** How often the socket's path is checked for being the one keel bound (default SOCKET_CHECK_MS). */
  socketCheckMs?: number;
}

/**
 * A root process (an onboot entry, an admin's rm -rf /run) can unlink or
 * replace keel.sock, and a listening socket never hears of it: keel would stay
 * up with no way in but the console. So the path is checked this often and
 * bound again when it is not keel's socket any more.
 */
export const SOCKET_CHECK_MS = 5_000;

/** A request's headers must arrive within this, and the whole request (a body) within REQUEST_TIMEOUT_MS; else 408 and close. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 15_000;
/** An idle kept-alive connection is closed after this. */
export const KEEP_ALIVE_MS = 5_000;
/** Node's errors for a request it gave up on, with the answer each gets (anything else is a 400). */
const CLIENT_ERRORS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
};
/** A refused connection is reported at most this often. */
const DROP_REPORT_MS = 10_000;

/**
 * How many API connections keel takes at once, given its soft open-file
 * limit. Each takes one descriptor; a running container holds a few (its
 * log pipes) and starting one briefly a dozen (runc's pipes, the bundle's
 * files), so three quarters of the limit stays theirs.
 */
export function connectionCap(openFileLimit: number): number {
  return Math.max(16, Math.min(1024, Math.floor(openFileLimit / 4)));
}

/** What is at `path` itself (lstat: a symlink that points nowhere is something too), or undefined when nothing is. */
function whatIsAt(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The file at `path` as (device, inode), or undefined when there is none. */
function fileIdentity(path: string): string | undefined {
  const st = whatIsAt(path);
  return st && `${st.dev}:${st.ino}`;
}

export class ControlApi {
  private server: Server | undefined;
  /** The bound socket's (device, inode), to tell it from whatever may take its path. */
  private bound: string | undefined;
  private guard: NodeJS.Timeout | undefined;
  private readonly terminals: Terminals;
  private dropped = 0;
  private dropReported = -Infinity;

  constructor(private readonly deps: ControlApiDeps) {
    this.terminals = new Terminals(() => deps.terminals, () => deps.supervisor());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url ?? '/');
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
    // Node checks the timeouts every connectionsCheckingInterval (30 s by default): once a second keeps them near their value.
    const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError || err instanceof TtyError ? err.status : 500;
        send(res, status, { error: (err as Error).message ?? String(err) });
      });
    });
    if (this.deps.maxConnections) server.maxConnections = this.deps.maxConnections;
    server.on('drop', () => this.reportDrop());
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.terminals.upgrade(req, socket, head));
    // Garbage that is not HTTP, or a request that did not arrive in time: answer and close, never throw.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
    // A follow stream is a GET whose request is complete at once: requestTimeout never cuts it; it lasts while its client reads.
    this.server = server;
    return this.bind(server, path).then(() => this.guardPath(server, path));
  }

  private bind(server: Server, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // The socket is created with the umask; tighten it before anyone can connect.
      // listen() binds a path synchronously, and the umask is the whole
      // process's: it goes back at once, or files and directories made
      // meanwhile (a container's overlay, whose root takes the upper
      // directory's mode) come out 0600.
      const old = process.umask(0o177);
      try {
        server.listen(path, () => {
          server.off('error', reject);
          chmodSync(path, 0o600);
          this.bound = fileIdentity(path);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
  }

  /**
   * Binds the path again when the socket there is gone or is another file.
   * The old listening socket is closed first (it can no longer be reached by
   * its path); connections already open on it go on.
   */
  private guardPath(server: Server, path: string): void {
    const every = this.deps.socketCheckMs ?? SOCKET_CHECK_MS;
    let rebinding = false;
    let lastFailure = '';
    const check = () => {
      if (rebinding || this.server !== server) return;
      const found = fileIdentity(path);
      if (found === this.bound) return;
      rebinding = true;
      const what = found === undefined ? 'was removed' : 'was replaced by another file';
      server.close(); // stops listening at once; 'close' waits for the open connections, which it does not cut
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
        rmSync(path, { force: true });
      } catch {
        /* the bind says what is wrong */
      }
      this.bind(server, path).then(
        () => {
          lastFailure = '';
          this.deps.bus.emit({ kind: 'api.rebound', level: 'warn', message: `control API: ${path} ${what}; keel listens there again` });
        },
        (err: NodeJS.ErrnoException) => {
          // A directory there is not keel's to remove: bind says EADDRINUSE, which would mislead.
          const why = whatIsAt(path)?.isDirectory() ? 'a directory is there now; remove it' : err.message;
          if (why === lastFailure) return; // said once, not every few seconds
          lastFailure = why;
          this.deps.bus.emit({ kind: 'api.error', level: 'error', message: `control API: ${path} ${what}, and keel could not listen there again (${why}); it tries again every ${every / 1000} s` });
        },
      ).finally(() => (rebinding = false));
    };
    this.guard = setInterval(check, every);
    this.guard.unref();
  }

  /** Connections over the cap are closed by Node as they come; the operator hears of it, at most every DROP_REPORT_MS. */
  private reportDrop(): void {
    this.dropped++;
    const now = performance.now();
    if (now - this.dropReported < DROP_REPORT_MS) return;
    this.dropReported = now;
    this.deps.bus.emit({ kind: 'api.refused', level: 'warn', message: `control API: refused ${this.dropped} connection(s) over the cap of ${this.deps.maxConnections} at once`, refused: this.dropped, cap: this.deps.maxConnections });
    this.dropped = 0;
  }

  close(): void {
    clearInterval(this.guard);
    const server = this.server;
    this.server = undefined;
    server?.close();
    server?.closeAllConnections();
  }
}

// The control API: HTTP/1.1 on a unix socket (mode 0600: root only), JSON
// bodies, usable with `curl --unix-socket`. Requests go through the route
// table (routes.ts). Every request is contained: a bad one gets a clear HTTP
// error and nothing it does can reach PID 1's loop. Every connection is
// bounded too: in number (each holds a file descriptor that starting a
// container may need), and in time until its request has arrived.
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
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
 * bound again when it is not keel's socket any more, unless another server
 * answers there.
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

/**
 * A file as (device, inode, birth time). The birth time tells keel's socket from a file made after
 * it was removed: the filesystem may give that one the freed inode's number (ext4 often does).
 */
function identityOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
}

/** The file at `path` as identityOf says, or undefined when there is none. */
function fileIdentity(path: string): string | undefined {
  const st = whatIsAt(path);
  return st && identityOf(st);
}

/** How long a socket at keel's path has to take a connection before it counts as answering anyway (a busy server). */
const ANSWER_WAIT_MS = 1_000;

/**
 * Whether a server listens on the unix socket at `path`. Only a refused
 * connection (a socket file left by a process that ended) or no file at all
 * says no: a full backlog or a slow accept is a live server all the same.
 */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.setTimeout(ANSWER_WAIT_MS, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

export class ControlApi {
  private server: Server | undefined;
  /** The bound socket's identity (identityOf), to tell it from whatever may take its path. */
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
      let made: string | undefined;
      try {
        server.listen(path, () => {
          server.off('error', reject);
          made ??= this.tighten(path);
          this.bound = made;
          resolve();
        });
        // Bound already (a path is bound before listen() returns): the socket is taken as it is now. The
        // callback can come much later (boot's stages run before the loop turns again), when another
        // process may have put its own socket at the path.
        if (server.listening) made = this.tighten(path);
      } finally {
        process.umask(old);
      }
    });
  }

  /** Makes the socket at `path` root's alone (0600) and returns its identity. */
  private tighten(path: string): string | undefined {
    chmodSync(path, 0o600);
    return fileIdentity(path);
  }

  /**
   * Binds the path again when the socket there is gone or is another file.
   * The old listening socket is closed first (it can no longer be reached by
   * its path); connections already open on it go on. A socket there that
   * another server answers on is left to it: taking it back would only make
   * the two take it from each other every few seconds (said once per socket).
   */
  private guardPath(server: Server, path: string): void {
    const every = this.deps.socketCheckMs ?? SOCKET_CHECK_MS;
    let checking = false;
    let lastFailure = '';
    let leftTo: string | undefined;
    const check = async () => {
      if (checking || this.server !== server) return;
      const st = whatIsAt(path);
      const found = st && identityOf(st);
      if (found === this.bound) return;
      checking = true;
      try {
        if (st?.isSocket() && (await answers(path))) {
          if (leftTo !== found) this.deps.bus.emit({ kind: 'api.taken', level: 'warn', message: `control API: ${path} is another server's socket now, and it answers; keel leaves it to that server and listens there again once it is gone` });
          leftTo = found;
          return;
        }
        // Closed, or the path changed, while it was asked: nothing to do, or looked at again next time.
        if (this.server !== server || fileIdentity(path) !== found) return;
        leftTo = undefined;
        const what = found === undefined ? 'was removed' : st?.isSocket() ? 'was replaced by a socket nobody listens on' : 'was replaced by another file';
        lastFailure = await this.rebind(server, path, what, lastFailure, every);
      } finally {
        checking = false;
      }
    };
    this.guard = setInterval(() => void check(), every);
    this.guard.unref();
  }

  /** Closes the listener and binds `path` again; returns the failure said (or '' after a bind), so each is said once. */
  private async rebind(server: Server, path: string, what: string, lastFailure: string, every: number): Promise<string> {
    server.close(); // stops listening at once; 'close' waits for the open connections, which it does not cut
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
      rmSync(path, { force: true });
    } catch {
      /* the bind says what is wrong */
    }
    try {
      await this.bind(server, path);
      this.deps.bus.emit({ kind: 'api.rebound', level: 'warn', message: `control API: ${path} ${what}; keel listens there again` });
      return '';
    } catch (err) {
      // A directory there is not keel's to remove: bind says EADDRINUSE, which would mislead.
      const why = whatIsAt(path)?.isDirectory() ? 'a directory is there now; remove it' : (err as Error).message;
      if (why !== lastFailure) this.deps.bus.emit({ kind: 'api.error', level: 'error', message: `control API: ${path} ${what}, and keel could not listen there again (${why}); it tries again every ${every / 1000} s` });
      return why;
    }
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

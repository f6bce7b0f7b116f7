// Remote attach: the console prompt and `exec` over the control API. A client
// sends `POST /v1/console` or `POST /v1/services/NAME/exec` with
// `Connection: Upgrade` and `Upgrade: tty`; keel answers 101 and the
// connection becomes a raw byte stream to and from a pseudo-terminal, as
// Docker's attach does. The answer's `Keel-Tty: ID` names the terminal for
// `POST /v1/ttys/ID/resize?cols=C&rows=R`, `POST /v1/ttys/ID/eof?bytes=N`
// (the input ends after N bytes: a side request rather than a half-close,
// which proxies and channels tend to turn into a full close) and, after the
// stream ends, `GET /v1/ttys/ID` for how the program exited. `exec?tty=0`
// gives plain pipes instead of a terminal, for scripts.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError, requestUrl } from './http.js';
import type { TtyStatus } from './wire.js';
import type { Supervisor } from '../services/supervisor.js';

export interface TermSize {
  cols: number;
  rows: number;
}

export interface TermExit {
  exitCode: number | null;
  signal: number | null;
}

export interface TermSession {
  resize(size: TermSize): void;
  /** The client's input ends after `bytes` bytes of the stream: close the program's stdin once they have arrived. */
  endInput(bytes: number): void;
  /** Settles when the program (or the prompt) is done; the stream is ended by then. */
  done: Promise<TermExit>;
}

/** What keel-init provides: node-pty and the prompt live there, not in services/. */
export interface TerminalHost {
  console(stream: Duplex, size: TermSize, term: string): TermSession;
  /**
   * With `tty`, the program gets a pseudo-terminal; without, plain pipes: the stream's bytes are its
   * stdin (the stream's end closes it), and its stdout and stderr come back on the stream.
   * Throws (a readable message) when the program cannot start.
   */
  exec(containerId: string, cmd: string[], stream: Duplex, opts: { tty: boolean; size: TermSize; term: string }): Promise<TermSession>;
}

export class TtyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Tty {
  id: number;
  what: string;
  session?: TermSession;
  exit?: TermExit;
}

const KEEP_EXITED_MS = 60_000;
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 500: 'Internal Server Error', 503: 'Service Unavailable' };

/** An HTTP error on a socket that was never handed to node:http's response machinery. */
/**
 * Answers an upgrade that will not happen, and closes. Closed, not only
 * ended: an upgraded socket is not read, so a client that sent a body and
 * went away would never be noticed and its connection would count against
 * the cap for good.
 */
function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message }) + '\n';
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy());
  else socket.destroy();
}

function sizeFrom(q: URLSearchParams): TermSize {
  const n = (key: string, dflt: number) => {
    if (!q.has(key)) return dflt;
    const v = Number(q.get(key));
    if (!Number.isInteger(v) || v < 1 || v > 1000) throw new TtyError(400, `${key} must be a whole number from 1 to 1000`);
    return v;
  };
  return { cols: n('cols', 80), rows: n('rows', 24) };
}

export class Terminals {
  private nextId = 1;
  private readonly ttys = new Map<number, Tty>();

  constructor(
    private readonly host: () => TerminalHost | undefined,
    private readonly supervisor: () => Supervisor | undefined,
  ) {}

  /** node:http's 'upgrade' event. Whatever goes wrong is answered on the socket, never thrown. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.open(req, socket, head).catch((err: unknown) => refuse(socket, err instanceof TtyError || err instanceof HttpError ? err.status : 500, (err as Error).message ?? String(err)));
  }

  private async open(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = requestUrl(req.url ?? '/');
    const parts = url.pathname.split('/').filter(Boolean);
    const isConsole = parts.length === 2 && parts[0] === 'v1' && parts[1] === 'console';
    const isExec = parts.length === 4 && parts[0] === 'v1' && parts[1] === 'services' && parts[3] === 'exec';
    if (!isConsole && !isExec) throw new TtyError(404, `${url.pathname} cannot be upgraded; /v1/console and /v1/services/NAME/exec can`);
    if (req.method !== 'POST') throw new TtyError(405, `${url.pathname} takes POST, not ${req.method}`);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'tty') throw new TtyError(400, 'the upgrade must be to "tty" (Upgrade: tty)');
    const host = this.host();
    if (!host) throw new TtyError(503, 'this keel has no terminals');
    const size = sizeFrom(url.searchParams);
    const term = url.searchParams.get('term') || 'xterm';
    if (!/^[A-Za-z0-9._+-]{1,64}$/.test(term)) throw new TtyError(400, 'term must be a terminal name such as xterm');

    let what = 'console';
    let start: () => Promise<TermSession> | TermSession;
    if (isExec) {
      let name: string;
      try {
        name = decodeURIComponent(parts[2]!);
      } catch {
        throw new TtyError(400, 'the service name in the path is not valid percent-encoding');
      }
      const s = this.supervisor()?.get(name);
      if (!s) throw new TtyError(404, `no service named "${name}"`);
      const id = s.containerId;
      if (s.pid === undefined || id === undefined) throw new TtyError(409, `service ${name} is not running (it is ${s.state})`);
      // A process entry runs in keel's own root and namespaces: there is no container to enter.
      if (s.entry.kind === 'process') throw new TtyError(409, `service ${name} is a process (kind: process), not a container: run the command where keel runs (in a container image: docker exec)`);
      const cmd = url.searchParams.getAll('cmd');
      what = `exec ${name}`;
      const tty = url.searchParams.get('tty') ?? '1';
      if (tty !== '0' && tty !== '1') throw new TtyError(400, 'tty must be 0 or 1');
      start = () => host.exec(id, cmd.length ? cmd : ['/bin/sh'], socket, { tty: tty === '1', size, term });
    } else start = () => host.console(socket, size, term);

    const tty: Tty = { id: this.nextId++, what };
    // The answer goes first: the program's first bytes must come after it.
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: tty\r\nkeel-tty: ${tty.id}\r\n\r\n`);
    if (head.length) socket.unshift(head);
    try {
      tty.session = await start();
    } catch (err) {
      // Too late for an HTTP status: say it on the stream.
      socket.end(`keel: ${what}: ${(err as Error).message}\r\n`);
      tty.exit = { exitCode: 127, signal: null };
      this.keep(tty);
      return;
    }
    this.ttys.set(tty.id, tty);
    const exit = await tty.session.done;
    tty.exit = exit;
    tty.session = undefined;
    this.keep(tty);
  }

  /** An exited terminal's status is kept a minute for GET /v1/ttys/ID. */
  private keep(tty: Tty): void {
    this.ttys.set(tty.id, tty);
    setTimeout(() => this.ttys.delete(tty.id), KEEP_EXITED_MS).unref();
  }

  /** GET /v1/ttys/ID */
  status(id: string): TtyStatus {
    const tty = this.get(id);
    return { id: tty.id, what: tty.what, running: tty.exit === undefined, exitCode: tty.exit?.exitCode ?? null, signal: tty.exit?.signal ?? null };
  }

  /** POST /v1/ttys/ID/resize?cols=C&rows=R */
  resize(id: string, q: URLSearchParams): TermSize {
    const tty = this.get(id);
    const size = sizeFrom(q);
    if (!tty.session) throw new TtyError(409, `terminal ${id} has exited`);
    tty.session.resize(size);
    return size;
  }

  /** POST /v1/ttys/ID/eof?bytes=N */
  endInput(id: string, q: URLSearchParams): { bytes: number } {
    const tty = this.get(id);
    const bytes = Number(q.get('bytes'));
    if (!q.has('bytes') || !Number.isSafeInteger(bytes) || bytes < 0) throw new TtyError(400, 'bytes must be the number of bytes sent before the end of input');
    if (!tty.session) throw new TtyError(409, `terminal ${id} has exited`);
    tty.session.endInput(bytes);
    return { bytes };
  }

  private get(id: string): Tty {
    const tty = /^\d+$/.test(id) ? this.ttys.get(Number(id)) : undefined;
    if (!tty) throw new TtyError(404, `no terminal ${id}`);
    return tty;
  }
}

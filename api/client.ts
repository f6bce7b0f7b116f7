// The control API's client, used by the keel CLI (and tests).
import { request } from 'node:http';
import type { Socket } from 'node:net';

import { existsSync } from 'node:fs';
import { DEFAULT_SOCKET, ownStateDirs, statePaths } from '../model/layout.js';

export { DEFAULT_SOCKET };

/** The socket the CLI talks to when none is named: /run/keel's, else the one a container's non-root init keeps in its own folder (init/boot/container-mode.ts). */
export function defaultSocket(): string {
  if (existsSync(DEFAULT_SOCKET)) return DEFAULT_SOCKET;
  return ownStateDirs().map((d) => statePaths(d).socket).find((own) => existsSync(own)) ?? DEFAULT_SOCKET;
}

export class ApiUnreachable extends Error {
  override name = 'ApiUnreachable';
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// Every request has a connection of its own (agent: false). Node 20's global agent keeps a connection
// alive for the next request, and keel closes one that has been idle 5 s, counted from its answer: through
// a busy VM channel the answer arrives late, the CLI's next request went out on a connection keel had
// already closed, and the verb failed with a hang-up it never caused.

export interface Reply {
  status: number;
  body: string;
}

function unreachable(socket: string, err: NodeJS.ErrnoException): ApiUnreachable {
  // keel closes a connection over its cap as it comes, before a word: the client sees a reset or a hang-up.
  if (err.code === 'ECONNRESET' || err.message === 'socket hang up') {
    return new ApiUnreachable(`keel at ${socket} closed the connection without an answer: it may be at its cap of concurrent API connections; try again shortly`);
  }
  const why = err.code === 'ENOENT' ? 'no socket there' : err.code === 'ECONNREFUSED' ? 'nothing is listening' : err.code === 'EACCES' ? 'permission denied (the socket is for root only)' : err.message;
  return new ApiUnreachable(`cannot reach keel at ${socket}: ${why}; is keel running? (--socket PATH or KEEL_SOCKET chooses another)`);
}

export function call(socket: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath: socket, agent: false, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(socket, err)));
    if (payload) req.write(payload);
    req.end();
  });
}

/**
 * Resolves once keel answers anything at `socket` within `ms`; throws ApiUnreachable if it cannot be
 * reached or stays silent. A VM's socket is keel run's end of a channel: it accepts a connection
 * even when nothing inside the VM answers, and a verb would wait forever.
 */
export function expectAnswer(socket: string, ms: number, silent: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, agent: false, method: 'GET', path: '/v1/boot' }, (res) => {
      clearTimeout(timer);
      res.resume();
      resolve();
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new ApiUnreachable(silent));
    }, ms);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(unreachable(socket, err));
    });
    req.end();
  });
}

/** A JSON call that throws ApiError on an HTTP error status. */
export async function callJson<T>(socket: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await call(socket, method, path, body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    throw new ApiError(r.status, `keel answered ${r.status} with something that is not JSON`);
  }
  if (r.status >= 400) throw new ApiError(r.status, (parsed as { error?: string }).error ?? `HTTP ${r.status}`);
  return parsed as T;
}

/** Streams a response line by line until it ends (or the caller stops it). */
export function streamLines(socket: string, path: string, onLine: (line: string) => void): { done: Promise<number>; stop: () => void } {
  let stop: () => void = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const req = request({ socketPath: socket, agent: false, method: 'GET', path }, (res) => {
      let buf = '';
      let errorBody = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if ((res.statusCode ?? 0) >= 400) {
          errorBody += d;
          return;
        }
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 400) {
          let msg = `HTTP ${res.statusCode}`;
          try {
            msg = (JSON.parse(errorBody) as { error?: string }).error ?? msg;
          } catch {
            /* keep the status */
          }
          return reject(new ApiError(res.statusCode ?? 0, msg));
        }
        if (buf) onLine(buf);
        resolve(res.statusCode ?? 0);
      });
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    let stopped = false;
    // A stream the caller stopped ends quietly: its "socket hang up" is not an error.
    req.on('error', (err: NodeJS.ErrnoException) => (stopped ? resolve(0) : reject(unreachable(socket, err))));
    req.end();
    stop = () => {
      stopped = true;
      req.destroy();
    };
  });
  return { done, stop };
}

/**
 * Upgrades a POST to a raw stream (remote attach: /v1/console,
 * /v1/services/NAME/exec). Resolves with the stream and the terminal's id
 * (the Keel-Tty header); an HTTP error answer becomes ApiError.
 */
export function upgrade(socket: string, path: string): Promise<{ stream: Socket; tty: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, agent: false, method: 'POST', path, headers: { connection: 'Upgrade', upgrade: 'tty' } });
    req.on('upgrade', (res, stream, head) => {
      if (head.length) stream.unshift(head);
      resolve({ stream, tty: String(res.headers['keel-tty'] ?? '') });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let msg = `HTTP ${res.statusCode}`;
        try {
          msg = (JSON.parse(text) as { error?: string }).error ?? msg;
        } catch {
          /* keep the status */
        }
        reject(new ApiError(res.statusCode ?? 0, msg));
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(socket, err)));
    req.end();
  });
}

// HTTP plumbing the control API's handlers share: errors with a status,
// JSON answers, bounded request bodies, and streams that end with the client
// and never hold more than a bounded backlog for it.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY = 64 * 1024;
/** A follow stream's client may fall this far behind (bytes keel holds for it) before lines are dropped for it. */
export const STREAM_BUFFER = 64 * 1024;
/** A follow stream whose client has read nothing for this long while lines waited is closed: it holds a connection for nothing. */
export const STREAM_STALL_MS = 60_000;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The request's path and query. Prefixed, not resolved against a base: "//x" would read as a host and throw. */
export function requestUrl(target: string): URL {
  try {
    return new URL(`http://keel${target.startsWith('/') ? '' : '/'}${target}`);
  } catch {
    throw new HttpError(400, `${JSON.stringify(target.slice(0, 80))} is not a request path`);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Reads a (small) request body. One over the limit, declared or chunked, is
 * answered 413 at once, and the rest of it is read and thrown away: a client
 * still writing its body would otherwise meet a closed connection (EPIPE)
 * before it reads the answer, as destroying the request did. The server's
 * requestTimeout bounds how long a body may take, however long it is.
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, `request body over ${MAX_BODY} bytes`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY) {
      req.resume();
      return reject(tooLarge());
    }
    let size = 0;
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) return void chunks.push(c);
      req.off('data', onData);
      req.resume(); // flowing with no listener: the rest is discarded
      reject(tooLarge());
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
    req.on('close', () => reject(new HttpError(408, 'the request body did not arrive')));
  });
}

export interface Stream {
  /** Writes, or drops `text` when the client is more than STREAM_BUFFER bytes behind; false when dropped. */
  write(text: string): boolean;
  /**
   * Writes what was kept before the request (a log's lines) whole, as fast
   * as the client reads it, then calls `then`. What write() is given
   * meanwhile (lines that came since) follows it, in order.
   */
  replay(kept: readonly string[], then?: () => void): void;
  /** Runs `f` when the client goes away. */
  onClose(f: () => void): void;
}

/**
 * Streams newline-delimited JSON (or text) until the client goes away. A
 * client that reads more slowly than lines come is never buffered for
 * without bound: past STREAM_BUFFER bytes its lines are dropped and counted,
 * and once it catches up `notice(count)` tells it how many it lost.
 */
export function openStream(req: IncomingMessage, res: ServerResponse, contentType: string, notice: (dropped: number) => string): Stream {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  // Node sends the head with the first body bytes: a follow stream with nothing to send yet (a quiet service's
  // logs, no new events) would leave its client with no answer at all until a line came.
  res.flushHeaders();
  const closers: Array<() => void> = [];
  const close = () => closers.splice(0).forEach((f) => f());
  req.on('close', close);
  res.on('error', close);
  let dropped = 0;
  let behindSince = 0;
  const catchUp = () => {
    if (dropped === 0 || res.destroyed) return;
    res.write(notice(dropped));
    dropped = 0;
  };
  res.on('drain', catchUp);
  /** Lines written during a replay, held until it ends (bounded as the socket's buffer is). */
  let held: string[] | undefined;
  let heldBytes = 0;
  const write = (s: string): boolean => {
    if (res.destroyed) return false;
    if (held) {
      if (heldBytes > STREAM_BUFFER) return (dropped++, false);
      held.push(s);
      heldBytes += s.length;
      return true;
    }
    if (res.writableLength > STREAM_BUFFER) {
      if (dropped++ === 0) behindSince = performance.now();
      else if (performance.now() - behindSince > STREAM_STALL_MS) res.destroy();
      return false;
    }
    catchUp();
    res.write(s);
    return true;
  };
  const replay = (kept: readonly string[], then?: () => void): void => {
    held = [];
    let i = 0;
    const more = (): void => {
      // The kept lines are already in memory: they wait for the client, not the other way round.
      while (i < kept.length && !res.destroyed) if (!res.write(kept[i++]!)) return void res.once('drain', more);
      const live = held ?? [];
      held = undefined;
      heldBytes = 0;
      for (const s of live) write(s);
      if (!res.destroyed) then?.();
    };
    more();
  };
  return { write, replay, onClose: (f) => closers.push(f) };
}

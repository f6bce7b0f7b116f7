// HTTP plumbing the control API's handlers share: errors with a status,
// JSON answers, bounded request bodies, and streams that end with the client.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY = 64 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a (small) request body; a larger one is refused before it is read. */
export function readBody(req: IncomingMessage): Promise<string> {
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

export interface Stream {
  write(text: string): void;
  /** Runs `f` when the client goes away. */
  onClose(f: () => void): void;
}

/** Streams newline-delimited JSON (or text) until the client goes away. */
export function openStream(req: IncomingMessage, res: ServerResponse, contentType: string): Stream {
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

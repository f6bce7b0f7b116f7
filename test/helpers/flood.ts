// A writer that sends as fast as its stream takes bytes, up to a total: the
// client (or server) that floods, in the tests of keel's bounds.
import type { Writable } from 'node:stream';

/** Writes `chunk` to `stream` until `total` bytes are sent, it is destroyed or stop() is called, waiting for drain; `sent()` says how many so far. */
export function floodWriter(stream: Writable, chunk: Buffer, total: number): { sent: () => number; stop: () => void } {
  let sent = 0;
  let stopped = false;
  const more = (): void => {
    while (!stream.destroyed && !stopped && sent < total) {
      sent += chunk.length;
      if (!stream.write(chunk)) return void stream.once('drain', more);
    }
  };
  more();
  return { sent: () => sent, stop: () => void (stopped = true) };
}

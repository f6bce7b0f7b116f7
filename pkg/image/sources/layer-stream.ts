// A layer's bytes (or a whole `docker save` archive's) as an uncompressed
// tar stream. A layer is a whole file (an OCI blob) or a region of one (a
// member of a `docker save` archive, read in place). Its compression is
// told by its first bytes, as Docker does, not by a media type: gzip
// through zlib; zstd, xz and bzip2 through their commands, since Node 20's
// zlib has none of them.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export interface LayerBlob {
  file: string;
  /** A region of file: its first byte and length. The whole file when absent. */
  start?: number;
  size?: number;
}

const READ_CHUNK = 1 << 20;

const COMMANDS: Array<{ magic: number[]; command: string; pkg: string }> = [
  { magic: [0x28, 0xb5, 0x2f, 0xfd], command: 'zstd', pkg: 'zstd' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], command: 'xz', pkg: 'xz-utils' },
  { magic: [0x42, 0x5a, 0x68], command: 'bzip2', pkg: 'bzip2' },
];

/** The blob's bytes as a stream, for a decompressor to read. */
function rawStream(blob: LayerBlob): Readable {
  return Readable.from(readRegion(blob));
}

function firstBytes(blob: LayerBlob): Buffer {
  const fd = openSync(blob.file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(8, blob.size ?? 8));
    const n = readSync(fd, buf, 0, buf.length, blob.start ?? 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const startsWith = (head: Buffer, magic: number[]) => magic.every((b, i) => head[i] === b);
const GZIP = [0x1f, 0x8b];

export function isCompressed(blob: LayerBlob): boolean {
  const head = firstBytes(blob);
  return startsWith(head, GZIP) || COMMANDS.some((c) => startsWith(head, c.magic));
}

/** The uncompressed bytes of the blob, in chunks; throws with the decompressor's message on bad data. */
export async function* uncompressedChunks(blob: LayerBlob): AsyncGenerator<Buffer> {
  const head = firstBytes(blob);
  if (startsWith(head, GZIP)) {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    const done = pipeline(rawStream(blob), gunzip);
    done.catch(() => undefined); // an error also ends the iteration below, which throws it
    yield* gunzip as AsyncIterable<Buffer>;
    await done;
    return;
  }
  const tool = COMMANDS.find((c) => startsWith(head, c.magic));
  if (tool) yield* commandOutput(tool.command, tool.pkg, rawStream(blob));
  else yield* readRegion(blob);
}

/** The blob's bytes, read with readSync: the applier is synchronous anyway, and this spares a thread-pool round trip per chunk. */
function* readRegion(blob: LayerBlob): Generator<Buffer> {
  const fd = openSync(blob.file, 'r');
  try {
    let at = blob.start ?? 0;
    const end = blob.size !== undefined ? at + blob.size : Infinity;
    while (at < end) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - at));
      const n = readSync(fd, chunk, 0, chunk.length, at);
      if (n === 0) break;
      at += n;
      yield chunk.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

async function* commandOutput(command: string, pkg: string, input: Readable): AsyncGenerator<Buffer> {
  const child = spawn(command, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | Error>((resolveExit) => {
    child.on('error', resolveExit);
    child.on('close', (code) => resolveExit(code ?? 1));
  });
  // The command may stop reading early (bad data): its exit status tells why, not EPIPE.
  const fed = pipeline(input, child.stdin).catch(() => undefined);
  try {
    yield* child.stdout as AsyncIterable<Buffer>;
    const status = await exited;
    await fed;
    if (status instanceof Error) {
      const missing = (status as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(missing ? `the layer is ${command}-compressed and the ${command} command is missing (install the ${pkg} package)` : `${command}: ${status.message}`);
    }
    if (status !== 0) throw new Error(`${command} -dc failed: ${stderr.trim().split('\n').slice(-2).join('; ')}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}

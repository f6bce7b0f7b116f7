// The members of an uncompressed tar file (a `docker save` archive), found
// by reading its headers only, so that manifest.json and the config are read
// and each layer is streamed in place, without unpacking the archive first.
import { closeSync, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { BLOCK, HeaderReader, padding, type TarEntry } from './tar-format.js';
import type { LayerBlob } from './layer-stream.js';

interface Member {
  entry: TarEntry;
  /** Where the member's data starts in the file. */
  offset: number;
}

/** Docker writes a layer it saves twice as a symlink to the first copy; a few hops are enough. */
const MAX_LINK_HOPS = 8;

function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

export class TarIndex {
  private readonly members = new Map<string, Member>();

  /** Throws TarFormatError when file is not a tar archive. */
  constructor(readonly file: string) {
    const fd = openSync(file, 'r');
    try {
      const headers = new HeaderReader();
      for (let at = 0; ; ) {
        const block = readAt(fd, BLOCK, at);
        if (block.length < BLOCK) break; // the end, without the closing zero blocks
        const r = headers.header(block, at);
        at += BLOCK;
        if (r.kind === 'end') break;
        if (r.kind === 'entry') {
          this.members.set(posix.normalize(r.entry.name).replace(/^(\.\/|\/)+|\/$/g, ''), { entry: r.entry, offset: at });
          at += r.entry.size + padding(r.entry.size);
        } else if (r.kind === 'extension') {
          headers.extension(readAt(fd, r.size, at));
          at += r.size + padding(r.size);
        } else {
          at += r.size + padding(r.size);
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The regular file named name (symlinks and hard links followed), or undefined. */
  blob(name: string): LayerBlob | undefined {
    let path = posix.normalize(name).replace(/^(\.\/|\/)+/, '');
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const m = this.members.get(path);
      if (!m) return undefined;
      if (m.entry.type === 'file') return { file: this.file, start: m.offset, size: m.entry.size };
      if (m.entry.type === 'symlink') path = posix.normalize(posix.join(posix.dirname(path), m.entry.linkname));
      else if (m.entry.type === 'hardlink') path = posix.normalize(m.entry.linkname).replace(/^(\.\/|\/)+/, '');
      else return undefined;
    }
    return undefined;
  }

  /** The contents of a (small) regular file member. */
  read(name: string): Buffer | undefined {
    const b = this.blob(name);
    if (!b) return undefined;
    const fd = openSync(this.file, 'r');
    try {
      return readAt(fd, b.size ?? 0, b.start ?? 0);
    } finally {
      closeSync(fd);
    }
  }
}

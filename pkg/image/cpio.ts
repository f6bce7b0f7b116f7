// A newc-format cpio archive writer (the format the kernel unpacks as an
// initramfs). Entries are sorted and every time is zero, so the same inputs
// always give the same bytes.

export type CpioEntry =
  | { path: string; type: 'dir'; mode: number; uid?: number; gid?: number }
  | { path: string; type: 'file'; mode: number; data: Buffer; uid?: number; gid?: number }
  | { path: string; type: 'symlink'; target: string; uid?: number; gid?: number }
  | { path: string; type: 'char'; mode: number; major: number; minor: number; uid?: number; gid?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const pad4 = (n: number) => (4 - (n % 4)) % 4;
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

function header(ino: number, mode: number, uid: number, gid: number, nlink: number, size: number, rmaj: number, rmin: number, nameSize: number): string {
  return ['070701', hex8(ino), hex8(mode), hex8(uid), hex8(gid), hex8(nlink), hex8(0), hex8(size), hex8(0), hex8(0), hex8(rmaj), hex8(rmin), hex8(nameSize), hex8(0)].join('');
}

function record(chunks: Buffer[], ino: number, name: string, mode: number, uid: number, gid: number, nlink: number, data: Buffer, rmaj = 0, rmin = 0): void {
  const nameBuf = Buffer.from(name + '\0');
  const head = Buffer.from(header(ino, mode, uid, gid, nlink, data.length, rmaj, rmin, nameBuf.length), 'ascii');
  chunks.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)));
  if (data.length > 0) chunks.push(data, Buffer.alloc(pad4(data.length)));
}

/** Normalizes "/a/b/" to "a/b" (cpio paths are relative to the root). */
export function cpioPath(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\/+/g, '/');
}

/**
 * The entries an archive holds, sorted, one per path: later entries for the
 * same path replace earlier ones, and parent directories that were not given
 * are added (mode 0755). The cpio and the tar writer both start here.
 */
export function normalizeEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = cpioPath(e.path);
    if (path === '') continue;
    byPath.set(path, { ...e, path });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'dir', mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Builds the archive from normalizeEntries(entries). */
export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  return writeCpio(normalizeEntries(entries));
}

/** An archive of entries already normalized, in their order, with nothing added: one piece of a root split across several archives. */
export function writeCpio(sorted: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const e of sorted) {
    const uid = e.uid ?? 0;
    const gid = e.gid ?? 0;
    switch (e.type) {
      case 'dir':
        record(chunks, ino++, e.path, S_IFDIR | (e.mode & 0o7777), uid, gid, 2, Buffer.alloc(0));
        break;
      case 'file':
        record(chunks, ino++, e.path, S_IFREG | (e.mode & 0o7777), uid, gid, 1, e.data);
        break;
      case 'symlink':
        record(chunks, ino++, e.path, S_IFLNK | 0o777, uid, gid, 1, Buffer.from(e.target));
        break;
      case 'char':
        record(chunks, ino++, e.path, S_IFCHR | (e.mode & 0o7777), uid, gid, 1, Buffer.alloc(0), e.major, e.minor);
        break;
    }
  }
  record(chunks, 0, 'TRAILER!!!', 0, 0, 0, 1, Buffer.alloc(0));
  return Buffer.concat(chunks);
}

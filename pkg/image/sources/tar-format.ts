// The tar format as image layers use it: 512-byte ustar headers, with the
// two ways of going past their limits, pax extended headers ("x": path,
// linkpath, size, uid, gid, mtime as text records) and GNU long names ("L",
// "K": the next entry's name or link target as data). Numbers are octal
// text, or GNU base-256 binary when they do not fit (large uids, sizes).
// HeaderReader turns a sequence of header blocks (and the data of the
// extension entries) into entries; the streaming reader and the docker save
// archive index both use it.

export const BLOCK = 512;
const MAX_EXTENSION = 1 << 20;

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** As written in the archive (pax path or GNU long name applied), not cleaned. */
  name: string;
  type: EntryType;
  /** Permission bits with setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow the header (0 for every type but file). */
  size: number;
  /** Seconds since the epoch, fractional when a pax record gives it so. */
  mtime: number;
  atime?: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** A header block that the caller must follow with `size` bytes of data for `extension`. */
export type HeaderResult = { kind: 'entry'; entry: TarEntry } | { kind: 'extension'; size: number } | { kind: 'skip'; size: number } | { kind: 'end' };

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? length : nul).toString('utf8');
}

/** An octal number, or GNU base-256 (the field's first bit set; two's complement when 0x40 is set too). */
function number(block: Buffer, start: number, length: number, field: string): number {
  const first = block[start]!;
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    let value = 0;
    for (let i = 0; i < length; i++) {
      let byte = block[start + i]!;
      if (negative) byte ^= 0xff;
      if (i === 0) byte &= 0x7f;
      value = value * 256 + byte;
    }
    return negative ? -(value + 1) : value;
  }
  const digits = text(block, start, length).trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw new TarFormatError(`bad ${field} field ${JSON.stringify(digits)} in a tar header`);
  return parseInt(digits, 8);
}

function checksumOk(block: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  const field = text(block, 148, 8).trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const stored = parseInt(field, 8);
  return stored === unsigned || stored === signed;
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** "LEN key=value\n" records; LEN counts the whole record. */
export function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // some writers pad the data with NULs
    const space = data.indexOf(0x20, at);
    const length = space > at ? parseInt(data.subarray(at, space).toString('ascii'), 10) : NaN;
    if (!Number.isInteger(length) || length <= space - at || at + length > data.length) throw new TarFormatError('bad pax extended header record');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarFormatError('bad pax extended header record');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

const TYPES: Record<string, EntryType> = { '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

function paxNumber(value: string, key: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n)) throw new TarFormatError(`bad pax ${key} ${JSON.stringify(value)}`);
  return n;
}

/**
 * Reads headers one block at a time. An extension header ("x", "L", "K")
 * asks for its data through extension(); its content then applies to the
 * next entry. Global pax headers ("g") are skipped, as Docker's and
 * containerd's appliers ignore them.
 */
export class HeaderReader {
  private pax: Map<string, string> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private extensionType = '';

  /** The next header block; offset is only for messages. */
  header(block: Buffer, offset: number): HeaderResult {
    if (isZero(block)) return { kind: 'end' };
    if (!checksumOk(block)) throw new TarFormatError(`not a tar archive: bad header checksum at byte ${offset}`);
    const flag = String.fromCharCode(block[156]!);
    const size = number(block, 124, 12, 'size');
    if (flag === 'x' || flag === 'L' || flag === 'K') {
      // Held in memory until the entry it describes; Go's reader has the same bound.
      if (size > MAX_EXTENSION) throw new TarFormatError(`a ${flag === 'x' ? 'pax' : 'GNU long name'} header of ${size} bytes at byte ${offset} is too large`);
      this.extensionType = flag;
      return { kind: 'extension', size };
    }
    if (flag === 'g' || flag === 'V') return { kind: 'skip', size };
    if (flag === 'S' || this.pax?.has('GNU.sparse.major') || this.pax?.has('GNU.sparse.size')) {
      throw new TarFormatError('sparse files are not supported in image layers');
    }
    const entry = this.entry(block, flag === '\0' ? '\0' : flag, size);
    this.pax = this.longName = this.longLink = undefined;
    return { kind: 'entry', entry };
  }

  /** The data of the extension header header() last returned. */
  extension(data: Buffer): void {
    if (this.extensionType === 'x') {
      this.pax = new Map([...(this.pax ?? []), ...parsePax(data)]);
      return;
    }
    const nul = data.indexOf(0);
    const value = data.subarray(0, nul < 0 ? data.length : nul).toString('utf8');
    if (this.extensionType === 'L') this.longName = value;
    else this.longLink = value;
  }

  private entry(block: Buffer, flag: string, size: number): TarEntry {
    const posix = block.subarray(257, 263).toString('latin1') === 'ustar\0';
    const prefix = posix ? text(block, 345, 155) : '';
    const short = text(block, 0, 100);
    const pax = this.pax;
    const name = pax?.get('path') ?? this.longName ?? (prefix ? `${prefix}/${short}` : short);
    let type = TYPES[flag];
    // Old tars mark files with a NUL type; a trailing slash made them directories.
    if (flag === '\0') type = name.endsWith('/') ? 'dir' : 'file';
    if (!type) throw new TarFormatError(`${JSON.stringify(name)} has the tar entry type ${JSON.stringify(flag)}, which image layers cannot hold`);
    const paxSize = pax?.get('size');
    const dataSize = paxSize !== undefined ? paxNumber(paxSize, 'size') : size;
    const uid = pax?.get('uid');
    const gid = pax?.get('gid');
    const mtime = pax?.get('mtime');
    const atime = pax?.get('atime');
    return {
      name,
      type,
      mode: number(block, 100, 8, 'mode') & 0o7777,
      uid: uid !== undefined ? paxNumber(uid, 'uid') : number(block, 108, 8, 'uid'),
      gid: gid !== undefined ? paxNumber(gid, 'gid') : number(block, 116, 8, 'gid'),
      // Only files carry data; for the other types the size field is not data (as Go's reader has it).
      size: type === 'file' ? dataSize : 0,
      mtime: mtime !== undefined ? paxNumber(mtime, 'mtime') : number(block, 136, 12, 'mtime'),
      ...(atime !== undefined ? { atime: paxNumber(atime, 'atime') } : {}),
      linkname: pax?.get('linkpath') ?? this.longLink ?? text(block, 157, 100),
      devmajor: type === 'char' || type === 'block' ? number(block, 329, 8, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? number(block, 337, 8, 'devminor') : 0,
    };
  }
}

/** Bytes of padding after `size` bytes of data, to the next block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

// The `tar` output: the image's root filesystem as a POSIX ustar archive,
// from the same entries the initrd is made of, plus /boot/kernel and
// /boot/cmdline. Sorted, every time zero, no user or group names, so the
// same inputs always give the same bytes. Names or numbers that ustar
// cannot hold go into a PAX extended header before their entry.
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { normalizeEntries, type CpioEntry } from './cpio.js';

const BLOCK = 512;
const MAX_ID = 0o7777777; // what an 8-byte octal field holds
const MAX_SIZE = 0o77777777777; // 12-byte field: 8 GiB - 1

/** An octal field of `width` bytes (digits then NUL); undefined if it does not fit. */
function octal(n: number, width: number): string | undefined {
  const s = n.toString(8);
  return s.length <= width - 1 ? s.padStart(width - 1, '0') : undefined;
}

/** ustar's name/prefix split at a slash, if the path fits either way. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') return { name: rest, prefix };
  }
  return undefined;
}

interface Header {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  type: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

function headerBlock(h: Header, split: { name: string; prefix: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  const put = (s: string, at: number, width: number) => b.write(s, at, width, 'utf8');
  put(split.name, 0, 100);
  put(octal(h.mode & 0o7777, 8)!, 100, 8);
  put(octal(Math.min(h.uid, MAX_ID), 8)!, 108, 8);
  put(octal(Math.min(h.gid, MAX_ID), 8)!, 116, 8);
  put(octal(Math.min(h.size, MAX_SIZE), 12)!, 124, 12);
  put(octal(0, 12)!, 136, 12); // mtime
  put(h.type, 156, 1);
  put(h.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  if (h.devmajor !== undefined) put(octal(h.devmajor, 8)!, 329, 8);
  if (h.devminor !== undefined) put(octal(h.devminor, 8)!, 337, 8);
  put(split.prefix, 345, 155);
  b.fill(' ', 148, 156); // the checksum is summed with its own field as spaces
  let sum = 0;
  for (const byte of b) sum += byte;
  put(octal(sum, 7)! + '\0', 148, 8);
  b[155] = 0x20;
  return b;
}

/** One PAX record: "LEN key=value\n", where LEN counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

const padding = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** The blocks for one member: a PAX header first when ustar cannot say it all. */
function member(h: Header, data: Buffer | undefined): Buffer[] {
  const pax: string[] = [];
  const split = splitName(h.name);
  if (!split) pax.push(paxRecord('path', h.name));
  if (h.linkname !== undefined && Buffer.byteLength(h.linkname) > 100) pax.push(paxRecord('linkpath', h.linkname));
  if (h.uid > MAX_ID) pax.push(paxRecord('uid', String(h.uid)));
  if (h.gid > MAX_ID) pax.push(paxRecord('gid', String(h.gid)));
  if (h.size > MAX_SIZE) pax.push(paxRecord('size', String(h.size)));
  const out: Buffer[] = [];
  if (pax.length) {
    const body = Buffer.from(pax.join(''));
    // A fixed name (no pid, unlike GNU tar's), cut to fit ustar's name field.
    const paxName = `PaxHeaders/${basename(h.name.replace(/\/$/, '')).slice(0, 80)}`;
    out.push(headerBlock({ name: paxName, mode: 0o644, uid: 0, gid: 0, size: body.length, type: 'x' }, { name: paxName, prefix: '' }), body, padding(body.length));
  }
  // Where the PAX header holds the truth, the ustar fields keep a cut-down copy (headerBlock cuts at the field's width).
  out.push(headerBlock(h, split ?? { name: h.name, prefix: '' }));
  if (data && data.length) out.push(data, padding(data.length));
  return out;
}

/** The archive's blocks, in order, for the (already merged) entries. */
export function tarBlocks(entries: readonly CpioEntry[]): Buffer[] {
  const blocks: Buffer[] = [];
  for (const e of normalizeEntries(entries)) {
    const uid = e.uid ?? 0;
    const gid = e.gid ?? 0;
    switch (e.type) {
      case 'dir':
        blocks.push(...member({ name: `${e.path}/`, mode: e.mode, uid, gid, size: 0, type: '5' }, undefined));
        break;
      case 'file':
        blocks.push(...member({ name: e.path, mode: e.mode, uid, gid, size: e.data.length, type: '0' }, e.data));
        break;
      case 'symlink':
        blocks.push(...member({ name: e.path, mode: 0o777, uid, gid, size: 0, type: '2', linkname: e.target }, undefined));
        break;
      case 'char':
        blocks.push(...member({ name: e.path, mode: e.mode, uid, gid, size: 0, type: '3', devmajor: e.major, devminor: e.minor }, undefined));
        break;
    }
  }
  blocks.push(Buffer.alloc(2 * BLOCK)); // end of archive
  return blocks;
}

/** The whole archive in memory (for small archives and tests). */
export function buildTar(entries: readonly CpioEntry[]): Buffer {
  return Buffer.concat(tarBlocks(entries));
}

/** The entries the caller's kernel and command line add, at /boot. */
export function bootEntries(kernelPath: string, cmdline: string): CpioEntry[] {
  return [
    { path: '/boot/kernel', type: 'file', mode: 0o644, data: readFileSync(kernelPath) },
    { path: '/boot/cmdline', type: 'file', mode: 0o644, data: Buffer.from(cmdline.trim() + '\n') },
  ];
}

/**
 * Writes the image as a tar to outPath: the initrd's entries plus
 * /boot/kernel and /boot/cmdline. Written beside and renamed into place, so a
 * failed write leaves no half archive.
 */
export function writeTar(entries: readonly CpioEntry[], kernelPath: string, cmdline: string, outPath: string): void {
  const out = resolve(outPath);
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let written = false;
  try {
    for (const b of tarBlocks([...entries, ...bootEntries(kernelPath, cmdline)])) {
      for (let at = 0; at < b.length; ) at += writeSync(fd, b, at);
    }
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(tmp, { force: true });
  }
  renameSync(tmp, out);
}

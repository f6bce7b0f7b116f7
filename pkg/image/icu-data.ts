// The ICU data in the image's node, cut down to English. Node's official
// build carries all of ICU's locale data inside its binary, 33 MB of the
// 86 MB that the kernel must decompress at every boot before /init can run
// (and about 9 MB of a 30 MB initrd). keel-init and the keel CLI speak
// English; the data for other languages, the legacy character-set tables,
// the transliterators and the dictionaries that break Thai or Chinese text
// into words are never read. The rest (Unicode properties, normalization,
// case mapping, time zones, English and the root locale, root collation)
// stays, so Intl, localeCompare, normalize() and /\p{L}/u work as before, and
// a locale whose data is gone falls back to root, as ICU does for any locale
// it lacks (Node's own "small-icu" builds hold about as much).
//
// The data is an ICU common-data package ("CmnD") at the exported symbol
// icudtNN_dat: a header, a table of contents sorted by name (each entry a
// name offset and a data offset, both from the table's start), the names,
// then the items, each 16-byte aligned. The package is rewritten in place
// with only the kept items, and the rest of the symbol is zeroed (which
// compresses to almost nothing). Offsets in ELF headers are little-endian on
// both architectures keel builds for.

/** An exported symbol's bytes in an ELF64 file: where they start in the file, and how many. */
export function elfSymbol(elf: Buffer, matches: (name: string) => boolean): { name: string; offset: number; size: number } | undefined {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return undefined; // ELF, 64-bit, little-endian
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      type: elf.readUInt32LE(at + 4),
      addr: Number(elf.readBigUInt64LE(at + 0x10)),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
      entsize: Number(elf.readBigUInt64LE(at + 0x38)),
    };
  });
  const SHT_DYNSYM = 11;
  const SHT_NOBITS = 8;
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  if (!dynsym || !sections[dynsym.link]) return undefined;
  const strtab = sections[dynsym.link]!;
  for (let at = dynsym.offset; at + 24 <= dynsym.offset + dynsym.size; at += dynsym.entsize || 24) {
    const nameAt = strtab.offset + elf.readUInt32LE(at);
    const name = elf.toString('latin1', nameAt, elf.indexOf(0, nameAt));
    if (!matches(name)) continue;
    const value = Number(elf.readBigUInt64LE(at + 8));
    const size = Number(elf.readBigUInt64LE(at + 16));
    const home = sections.find((s) => s.type !== SHT_NOBITS && s.addr !== 0 && value >= s.addr && value + size <= s.addr + s.size);
    return home ? { name, offset: value - home.addr + home.offset, size } : undefined;
  }
  return undefined;
}

interface Item {
  name: string;
  data: Buffer;
}

/** The items of a common-data package, in its (name) order; undefined when `pkg` is not one. */
export function icuItems(pkg: Buffer): { header: Buffer; prefix: string; items: Item[] } | undefined {
  if (pkg.length < 32 || pkg[2] !== 0xda || pkg[3] !== 0x27 || pkg.toString('latin1', 12, 16) !== 'CmnD') return undefined;
  const headerSize = pkg.readUInt16LE(0);
  const count = pkg.readUInt32LE(headerSize);
  const toc = Array.from({ length: count }, (_, i) => {
    const nameAt = headerSize + pkg.readUInt32LE(headerSize + 4 + 8 * i);
    return { name: pkg.toString('latin1', nameAt, pkg.indexOf(0, nameAt)), at: headerSize + pkg.readUInt32LE(headerSize + 8 + 8 * i) };
  });
  const starts = toc.map((e) => e.at).sort((a, b) => a - b);
  const end = (at: number) => starts.find((s) => s > at) ?? pkg.length;
  const prefix = toc[0]?.name.split('/')[0] ?? '';
  return { header: pkg.subarray(0, headerSize), prefix, items: toc.map((e) => ({ name: e.name, data: pkg.subarray(e.at, end(e.at)) })) };
}

/** A package of `items` (kept in their order, which is the table's): header, table, names, 16-byte aligned items. */
export function icuPackage(header: Buffer, items: readonly Item[]): Buffer {
  const tocSize = 4 + 8 * items.length;
  const names = Buffer.concat(items.map((i) => Buffer.from(`${i.name}\0`, 'latin1')));
  const align = (n: number) => (n + 15) & ~15;
  let at = align(header.length + tocSize + names.length) - header.length;
  const toc = Buffer.alloc(tocSize);
  toc.writeUInt32LE(items.length, 0);
  let nameAt = tocSize;
  const placed = items.map((item, i) => {
    toc.writeUInt32LE(nameAt, 4 + 8 * i);
    toc.writeUInt32LE(at, 8 + 8 * i);
    nameAt += Buffer.byteLength(item.name, 'latin1') + 1;
    const here = at;
    at = align(header.length + at + item.data.length) - header.length;
    return here;
  });
  const out = Buffer.alloc(header.length + at);
  header.copy(out, 0);
  toc.copy(out, header.length);
  names.copy(out, header.length + tocSize);
  items.forEach((item, i) => item.data.copy(out, header.length + placed[i]!));
  return out;
}

// A locale's data file: "de.res", "zh_Hant_TW.res", or the same under a tree ("curr/de.res").
const LOCALE_FILE = /^(?:[a-z]+\/)?[a-z]{2,3}(?:_[A-Za-z0-9]+)*\.res$/;
const ENGLISH_OR_SHARED = /^(?:[a-z]+\/)?(?:root|en|en_US|en_US_POSIX|en_001|pool|res_index)\.res$/;
// windows-1252, the one table-driven character set the web still defaults to (UTF-8, UTF-16 and Latin-1 need no table).
const KEPT_TABLES = new Set(['ibm-5348_P100-1997.cnv']);

/** Whether an item (its name without the package prefix) stays in the image's ICU data. */
export function keepIcuItem(name: string): boolean {
  if (LOCALE_FILE.test(name)) return ENGLISH_OR_SHARED.test(name);
  if (name.startsWith('translit/')) return false;
  if (name.endsWith('.dict')) return false;
  if (name.endsWith('.cnv')) return KEPT_TABLES.has(name);
  return true;
}

export interface IcuTrimmed {
  /** The symbol's name (icudt78_dat), and its size before and the kept package's size after. */
  symbol: string;
  before: number;
  after: number;
  items: { kept: number; dropped: number };
}

/**
 * Cuts the ICU data in the node binary `elf` down to what keepIcuItem keeps,
 * in place. Undefined (and `elf` untouched) when it carries no ICU package
 * of its own (a node linked against the system's libicu has none).
 */
export function trimNodeIcu(elf: Buffer): IcuTrimmed | undefined {
  const sym = elfSymbol(elf, (n) => /^icudt\d+_dat$/.test(n));
  if (!sym) return undefined;
  const region = elf.subarray(sym.offset, sym.offset + sym.size);
  const pkg = icuItems(region);
  if (!pkg) return undefined;
  const kept = pkg.items.filter((i) => keepIcuItem(i.name.slice(pkg.prefix.length + 1)));
  const out = icuPackage(pkg.header, kept);
  if (out.length > region.length) return undefined;
  region.fill(0);
  out.copy(region);
  return { symbol: sym.name, before: sym.size, after: out.length, items: { kept: kept.length, dropped: pkg.items.length - kept.length } };
}

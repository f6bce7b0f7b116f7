// Just enough of the PE/COFF format (what UEFI runs) to add data sections
// to an EFI program and to find them again: a unified kernel image is the
// systemd EFI stub with the kernel, initrd and command line as sections.
// Everything here is computed from the inputs, so the output is the same
// bytes every time (no timestamps are touched).
import { BuildError } from './kernel.js';

const SECTION_HEADER = 40;
/** Initialized data, readable: what a section of plain bytes is. */
const DATA_SECTION = 0x00000040 | 0x40000000;
/** The security directory (data directory 4): a signature appended to the file. */
const SECURITY_DIRECTORY = 4;

export interface PeSection {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  /** Where its bytes are in the file, and how many (may be more than virtualSize: file alignment). */
  rawOffset: number;
  rawSize: number;
}

interface PeLayout {
  coff: number;
  optional: number;
  sectionTable: number;
  sectionCount: number;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfHeaders: number;
  sections: PeSection[];
}

const align = (n: number, to: number) => Math.ceil(n / to) * to;

function layout(pe: Buffer, what: string): PeLayout {
  if (pe.length < 0x40 || pe.toString('latin1', 0, 2) !== 'MZ') throw new BuildError(`${what} is not a PE (EFI) program`);
  const peAt = pe.readUInt32LE(0x3c);
  if (peAt + 24 > pe.length || pe.toString('latin1', peAt, peAt + 4) !== 'PE\0\0') throw new BuildError(`${what} has no PE header`);
  const coff = peAt + 4;
  const optional = coff + 20;
  const magic = pe.readUInt16LE(optional);
  if (magic !== 0x20b && magic !== 0x10b) throw new BuildError(`${what}: unknown PE optional header 0x${magic.toString(16)}`);
  const sectionTable = optional + pe.readUInt16LE(coff + 16);
  const sectionCount = pe.readUInt16LE(coff + 2);
  const sections: PeSection[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const at = sectionTable + i * SECTION_HEADER;
    sections.push({
      name: pe.toString('latin1', at, at + 8).replace(/\0+$/, ''),
      virtualSize: pe.readUInt32LE(at + 8),
      virtualAddress: pe.readUInt32LE(at + 12),
      rawSize: pe.readUInt32LE(at + 16),
      rawOffset: pe.readUInt32LE(at + 20),
    });
  }
  return {
    coff,
    optional,
    sectionTable,
    sectionCount,
    sectionAlignment: pe.readUInt32LE(optional + 32),
    fileAlignment: pe.readUInt32LE(optional + 36),
    sizeOfHeaders: pe.readUInt32LE(optional + 60),
    sections,
  };
}

/** The sections of a PE program, in file order. */
export function peSections(pe: Buffer, what = 'the file'): PeSection[] {
  return layout(pe, what).sections;
}

/** The offset of the security directory entry in the optional header (PE32+ and PE32 differ by 16 bytes). */
function securityDirectory(pe: Buffer, l: PeLayout): number {
  const dirs = l.optional + (pe.readUInt16LE(l.optional) === 0x20b ? 112 : 96);
  return dirs + SECURITY_DIRECTORY * 8;
}

/** The PE checksum: a 16-bit folded sum of the file's words, the checksum field counted as 0, plus the length. */
export function peChecksum(pe: Buffer, checksumAt: number): number {
  // Summed as little-endian 16-bit words (the host's order on every architecture keel runs on) into a
  // float, exact up to 2^53 (files far beyond any UKI), and folded once at the end.
  let sum = 0;
  const words = Math.floor(pe.length / 2);
  const aligned = pe.byteOffset % 2 === 0 ? new Uint16Array(pe.buffer, pe.byteOffset, words) : undefined;
  for (let w = 0; w < words; w++) sum += aligned ? aligned[w]! : pe.readUInt16LE(w * 2);
  sum -= pe.readUInt16LE(checksumAt) + pe.readUInt16LE(checksumAt + 2);
  if (pe.length % 2) sum += pe[pe.length - 1]!;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return (sum + pe.length) >>> 0;
}

/**
 * A copy of `base` with `add` appended as new data sections, in order, each
 * page-aligned in memory after the last existing one. The header must have
 * room for the new section headers (the systemd stub leaves it).
 */
export function addPeSections(base: Buffer, add: ReadonlyArray<{ name: string; data: Buffer }>, what = 'the EFI stub'): Buffer {
  const l = layout(base, what);
  const sec = base.readUInt32LE(securityDirectory(base, l) + 4);
  if (sec !== 0) throw new BuildError(`${what} is signed; keel adds sections to an unsigned stub (a signature would no longer match)`);
  const headersEnd = l.sectionTable + (l.sectionCount + add.length) * SECTION_HEADER;
  const firstRaw = Math.min(...l.sections.filter((s) => s.rawSize > 0).map((s) => s.rawOffset));
  if (headersEnd > l.sizeOfHeaders || headersEnd > firstRaw) throw new BuildError(`${what} has no room in its header for ${add.length} more sections`);
  // Page-aligned, whatever the stub's own alignment: firmware that maps sections with memory protections wants pages.
  const memAlign = Math.max(l.sectionAlignment, 4096);
  let va = align(Math.max(...l.sections.map((s) => s.virtualAddress + Math.max(s.virtualSize, s.rawSize))), memAlign);
  let fileEnd = align(Math.max(base.length, ...l.sections.map((s) => s.rawOffset + s.rawSize)), l.fileAlignment);
  const headers: Buffer[] = [];
  const bodies: Array<{ at: number; data: Buffer }> = [];
  let initialized = 0;
  for (const { name, data } of add) {
    if (Buffer.byteLength(name) > 8) throw new BuildError(`PE section name ${name} is longer than 8 bytes`);
    const h = Buffer.alloc(SECTION_HEADER);
    h.write(name, 0, 8, 'latin1');
    const rawSize = align(data.length, l.fileAlignment);
    h.writeUInt32LE(data.length, 8);
    h.writeUInt32LE(va, 12);
    h.writeUInt32LE(rawSize, 16);
    h.writeUInt32LE(fileEnd, 20);
    h.writeUInt32LE(DATA_SECTION, 36);
    headers.push(h);
    bodies.push({ at: fileEnd, data });
    initialized += rawSize;
    va = align(va + data.length, memAlign);
    fileEnd += rawSize;
  }
  const out = Buffer.alloc(fileEnd);
  base.copy(out);
  Buffer.concat(headers).copy(out, l.sectionTable + l.sectionCount * SECTION_HEADER);
  for (const b of bodies) b.data.copy(out, b.at);
  out.writeUInt16LE(l.sectionCount + add.length, l.coff + 2);
  out.writeUInt32LE(out.readUInt32LE(l.optional + 8) + initialized, l.optional + 8); // SizeOfInitializedData
  out.writeUInt32LE(align(va, l.sectionAlignment), l.optional + 56); // SizeOfImage
  out.writeUInt32LE(peChecksum(out, l.optional + 64), l.optional + 64);
  return out;
}

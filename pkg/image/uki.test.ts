// The unified kernel image made from Debian's real systemd EFI stub: the
// sections the stub looks for, laid out as a UEFI loader needs them, and
// the stub's own sections untouched.
import { describe, expect, it } from 'vitest';
import { BuildError } from './kernel.js';
import { addPeSections, peChecksum, peSections } from './pe.js';
import { buildUki, efiStub, ukiParts } from './uki.js';

const kernel = Buffer.alloc(1_000_003, 0x4b);
const initrd = Buffer.alloc(2_000_001, 0x49);

describe('a unified kernel image', () => {
  const stub = efiStub();
  const uki = buildUki({ kernel, initrd, cmdline: 'quiet' });

  it('is the stub with .osrel, .cmdline, .linux and .initrd after its own sections', () => {
    const before = peSections(stub);
    const after = peSections(uki);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).map((s) => s.name)).toEqual(['.osrel', '.cmdline', '.linux', '.initrd']);
    expect(uki.subarray(0, 2).toString('latin1')).toBe('MZ');
  });

  it('carries the command line with the serial console, and the kernel and initrd byte for byte', () => {
    const cmd = peSections(uki).find((s) => s.name === '.cmdline')!;
    expect(uki.toString('utf8', cmd.rawOffset, cmd.rawOffset + cmd.virtualSize)).toBe('quiet console=ttyS0');
    const parts = ukiParts(uki, 'uki');
    expect(uki.subarray(parts.kernel.rawOffset, parts.kernel.rawOffset + parts.kernel.virtualSize).equals(kernel)).toBe(true);
    expect(uki.subarray(parts.initrd.rawOffset, parts.initrd.rawOffset + parts.initrd.virtualSize).equals(initrd)).toBe(true);
  });

  it('lays the new sections out page-aligned in memory, in order, inside SizeOfImage, file-aligned on disk', () => {
    const peAt = uki.readUInt32LE(0x3c);
    const optional = peAt + 24;
    const fileAlign = uki.readUInt32LE(optional + 36);
    const sizeOfImage = uki.readUInt32LE(optional + 56);
    const sections = peSections(uki);
    const added = sections.slice(-4);
    for (const s of added) {
      expect(s.virtualAddress % 4096).toBe(0);
      expect(s.rawOffset % fileAlign).toBe(0);
    }
    for (let i = 1; i < sections.length; i++) {
      const prev = sections[i - 1]!;
      expect(sections[i]!.virtualAddress).toBeGreaterThanOrEqual(prev.virtualAddress + prev.virtualSize);
    }
    const last = sections[sections.length - 1]!;
    expect(sizeOfImage).toBeGreaterThanOrEqual(last.virtualAddress + last.virtualSize);
    expect(uki.readUInt16LE(peAt + 6)).toBe(sections.length);
  });

  it('carries a PE checksum computed the way the linker computed the stub one', () => {
    const at = (pe: Buffer) => pe.readUInt32LE(0x3c) + 24 + 64;
    expect(peChecksum(stub, at(stub))).toBe(stub.readUInt32LE(at(stub)));
    expect(uki.readUInt32LE(at(uki))).toBe(peChecksum(uki, at(uki)));
  });

  it('is the same bytes from the same inputs', () => {
    expect(buildUki({ kernel, initrd, cmdline: 'quiet' }).equals(uki)).toBe(true);
  });

  it('refuses what a stub cannot carry', () => {
    expect(() => addPeSections(stub, [{ name: '.toolongname', data: Buffer.alloc(1) }])).toThrow(/longer than 8 bytes/);
    expect(() => buildUki({ kernel, initrd, cmdline: 'quiet\ninit=/bin/sh' })).toThrow(BuildError);
    expect(() => peSections(Buffer.from('not a PE file, just text'))).toThrow(/is not a PE \(EFI\) program/);
  });
});

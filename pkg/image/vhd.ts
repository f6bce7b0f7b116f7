// The fixed VHD footer: the 512 bytes after the raw disk that make it a
// VHD (what Azure takes). qemu-img writes the file; keel then puts the
// build's date and an id derived from the disk's contents where qemu-img
// puts the clock and a random id, so the same disk gives the same file.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { BuildError } from './kernel.js';

export const VHD_FOOTER = 512;
const COOKIE = 'conectix';
/** VHD dates count seconds from 2000-01-01 00:00 UTC. */
const VHD_EPOCH = 946684800;
export const VHD_FIXED = 2;

export interface VhdFooter {
  diskType: number;
  currentSize: number;
  creatorApp: string;
  /** The checksum the footer holds, and the one its bytes give. */
  checksum: number;
  computedChecksum: number;
}

/** One's complement of the byte sum, the checksum field (offset 64) left out. */
function footerChecksum(f: Buffer): number {
  let sum = 0;
  for (let i = 0; i < VHD_FOOTER; i++) if (i < 64 || i >= 68) sum += f[i]!;
  return ~sum >>> 0;
}

function readFooter(fd: number, what: string): { footer: Buffer; at: number } {
  const size = fstatSync(fd).size;
  const footer = Buffer.alloc(VHD_FOOTER);
  if (size < VHD_FOOTER || readSync(fd, footer, 0, VHD_FOOTER, size - VHD_FOOTER) !== VHD_FOOTER || footer.toString('latin1', 0, 8) !== COOKIE) {
    throw new BuildError(`${what} has no VHD footer`);
  }
  return { footer, at: size - VHD_FOOTER };
}

/** The footer of a VHD file (fixed or dynamic: both end with it). */
export function vhdFooter(file: string): VhdFooter {
  const fd = openSync(file, 'r');
  try {
    const { footer } = readFooter(fd, file);
    return {
      diskType: footer.readUInt32BE(60),
      currentSize: Number(footer.readBigUInt64BE(48)),
      creatorApp: footer.toString('latin1', 28, 32),
      checksum: footer.readUInt32BE(64),
      computedChecksum: footerChecksum(footer),
    };
  } finally {
    closeSync(fd);
  }
}

/** Sets the footer's date and unique id (a 16-byte id) and its checksum to match. */
export function settleVhdFooter(file: string, epoch: number, id: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    const { footer, at } = readFooter(fd, file);
    footer.writeUInt32BE(Math.max(0, epoch - VHD_EPOCH), 24);
    id.copy(footer, 68, 0, 16);
    footer.writeUInt32BE(footerChecksum(footer), 64);
    writeSync(fd, footer, 0, VHD_FOOTER, at);
  } finally {
    closeSync(fd);
  }
}

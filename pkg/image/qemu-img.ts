// Converting a raw disk into the virtual disk formats hypervisors and
// clouds take, with qemu-img (Debian qemu-utils), and settling the fields
// qemu-img fills from the clock or at random (vhd.ts, vhdx.ts, the VMDK's
// CID here), so that the same raw disk always gives the same file.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { BuildError } from './kernel.js';
import { derivedId32, derivedUuid } from './reproducible.js';
import { settleVhdFooter } from './vhd.js';
import { settleVhdx } from './vhdx.js';

export const QEMU_IMG_PACKAGE = 'qemu-utils';

export type VirtualDisk = 'qcow2' | 'vhd' | 'vhdx' | 'vmdk';

/** qemu-img's driver and creation options per format. */
const CONVERT: Record<VirtualDisk, { driver: string; options: string }> = {
  qcow2: { driver: 'qcow2', options: '' },
  // Fixed, and sized exactly as the raw disk (force_size): Azure takes only
  // fixed VHDs whose size is a whole number of MiB, and the raw disk is one.
  vhd: { driver: 'vpc', options: 'subformat=fixed,force_size' },
  vhdx: { driver: 'vhdx', options: 'subformat=dynamic' },
  // The stream-optimized VMDK (compressed grains) that vSphere imports through OVF and Workstation opens.
  vmdk: { driver: 'vmdk', options: 'adapter_type=lsilogic,subformat=streamOptimized,compat6' },
};

export function qemuImg(args: string[], what: string): string {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.error) throw new BuildError(`qemu-img was not found (${r.error.message}); install it with "apt-get install ${QEMU_IMG_PACKAGE}"`);
  if (r.status !== 0) throw new BuildError(`qemu-img could not ${what}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/**
 * The VMDK descriptor's CID (content id) is drawn at random; it becomes 8 hex digits from `seed`.
 * qemu writes the random one without leading zeros (6 or 7 digits now and then) and leaves bytes
 * past the text's end that depend on its length, so the whole descriptor region (its offset and
 * size in sectors are in the sparse header) is written again: the text, then zeros.
 */
function settleVmdkCid(file: string, seed: string): void {
  const fd = openSync(file, 'r+');
  try {
    const header = Buffer.alloc(512);
    readSync(fd, header, 0, header.length, 0);
    const offset = Number(header.readBigUInt64LE(28)) * 512;
    const size = Number(header.readBigUInt64LE(36)) * 512;
    if (header.toString('latin1', 0, 4) !== 'KDMV' || offset === 0 || size === 0 || size > 1 << 20) throw new BuildError(`${file}: not a VMDK with an embedded descriptor`);
    const region = Buffer.alloc(size);
    readSync(fd, region, 0, size, offset);
    const nul = region.indexOf(0);
    const text = region.toString('latin1', 0, nul < 0 ? size : nul);
    const cid = derivedId32(`${seed}/vmdk-cid`).toString(16).padStart(8, '0');
    const settled = text.replace(/^CID=[0-9a-f]+$/m, `CID=${cid}`);
    if (settled === text && !text.includes(`CID=${cid}`)) throw new BuildError(`${file}: no CID line in the VMDK descriptor`);
    if (settled.length >= size) throw new BuildError(`${file}: no room in the VMDK descriptor for its CID`);
    const out = Buffer.alloc(size);
    out.write(settled, 0, 'latin1');
    writeSync(fd, out, 0, size, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * Converts the raw disk into `format` at `out`. Writes go in order (no -W) and
 * one at a time (-m 1), so allocation inside the file is the same every time:
 * with qemu-img's default of 8 requests in flight, one VMDK of two builds of
 * the same raw disk came out different on a loaded machine.
 */
export function convertRawDisk(raw: string, out: string, format: VirtualDisk, seed: string, epoch: number): void {
  const { driver, options } = CONVERT[format];
  qemuImg(['convert', '-q', '-m', '1', '-f', 'raw', '-O', driver, ...(options ? ['-o', options] : []), raw, out], `convert ${raw} to ${format}`);
  if (format === 'vhd') settleVhdFooter(out, epoch, Buffer.from(derivedUuid(`${seed}/vhd`).replace(/-/g, ''), 'hex'));
  if (format === 'vhdx') settleVhdx(out, seed);
  if (format === 'vmdk') settleVmdkCid(out, seed);
}

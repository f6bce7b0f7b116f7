// The outputs made from the kernel, initrd and command line once they are
// built: disks for hypervisors and clouds, the iso-efi, and the kubevirt
// containerDisk. Names and file names are LinuxKit's where LinuxKit has the
// format. Each raw disk layout is written once per build and converted into
// every format that wants it; all work happens in a folder beside the
// outputs, and each output is renamed into place only when complete.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hostArch } from './arch.js';
import { diskSeed, MIB, writeRawDisk, type BootPayload, type Firmware } from './disk.js';
import { GCP_DISK_NAME, GCP_DISK_UNIT, writeGcpArchive } from './gcp.js';
import { writeIsoEfi } from './iso-efi.js';
import { BuildError } from './kernel.js';
import { checkTag, loadContainerDisk } from './kubevirt.js';
import { convertRawDisk, type VirtualDisk } from './qemu-img.js';
import { buildEpoch } from './reproducible.js';
import { buildUki } from './uki.js';

type Kind = 'raw' | VirtualDisk | 'gcp' | 'iso-efi' | 'kubevirt';

interface OutputSpec {
  firmware: Firmware;
  kind: Kind;
  /** The output file for image NAME (none for kubevirt, which goes into the Docker engine). */
  file?: (name: string) => string;
}

/** Every format here, and how it is made. BIOS disks boot through syslinux, EFI ones through a unified kernel image. */
export const BOOT_OUTPUTS = {
  'iso-efi': { firmware: 'efi', kind: 'iso-efi', file: (n) => `${n}-efi.iso` },
  'raw-bios': { firmware: 'bios', kind: 'raw', file: (n) => `${n}-bios.img` },
  'raw-efi': { firmware: 'efi', kind: 'raw', file: (n) => `${n}-efi.img` },
  'qcow2-bios': { firmware: 'bios', kind: 'qcow2', file: (n) => `${n}.qcow2` },
  'qcow2-efi': { firmware: 'efi', kind: 'qcow2', file: (n) => `${n}-efi.qcow2` },
  vhd: { firmware: 'bios', kind: 'vhd', file: (n) => `${n}.vhd` },
  vhdx: { firmware: 'efi', kind: 'vhdx', file: (n) => `${n}.vhdx` },
  vmdk: { firmware: 'bios', kind: 'vmdk', file: (n) => `${n}.vmdk` },
  gcp: { firmware: 'bios', kind: 'gcp', file: (n) => `${n}.img.tar.gz` },
  aws: { firmware: 'bios', kind: 'raw', file: (n) => `${n}.raw` },
  kubevirt: { firmware: 'bios', kind: 'kubevirt' },
} satisfies Record<string, OutputSpec>;

export type BootOutput = keyof typeof BOOT_OUTPUTS;
export const BOOT_OUTPUT_NAMES = Object.keys(BOOT_OUTPUTS) as BootOutput[];

/** The formats that are disks (and so take --size). */
export function isDiskOutput(format: BootOutput): boolean {
  return BOOT_OUTPUTS[format].kind !== 'iso-efi';
}

export interface BootOutputOptions {
  name: string;
  outDir: string;
  payload: BootPayload;
  /** keel build --size: the disks' size in bytes. */
  size?: number;
  /** keel build --tag: the image name the kubevirt output is loaded as. */
  tag?: string;
  epoch?: number;
}

/** Refuses options that cannot work before anything is built. */
export function checkBootOutputs(formats: readonly BootOutput[], opts: { tag?: string }): void {
  if (formats.includes('kubevirt')) {
    if (!opts.tag) throw new BuildError('--format kubevirt loads the disk into the Docker engine as an image: name it with --tag, e.g. --tag registry.example/keel/demo:1');
    checkTag(opts.tag);
  }
}

/** Writes the formats; resolves with one line per output (its path, or the image it was loaded as). */
export async function writeBootOutputs(formats: readonly BootOutput[], opts: BootOutputOptions): Promise<string[]> {
  checkBootOutputs(formats, opts);
  const epoch = buildEpoch(opts.epoch);
  const payload = { ...opts.payload, arch: opts.payload.arch ?? hostArch() };
  mkdirSync(opts.outDir, { recursive: true });
  const work = mkdtempSync(join(opts.outDir, `.${opts.name}-disks-`));
  const seeds = new Map<Firmware, string>();
  const seedOf = (fw: Firmware) => seeds.get(fw) ?? seeds.set(fw, diskSeed(payload, fw)).get(fw)!;
  let uki: Buffer | undefined;
  const ukiOnce = () => (uki ??= buildUki(payload));
  const raws = new Map<string, string>();
  /** The raw disk for a layout and size unit, written the first time it is wanted. */
  const rawDisk = (fw: Firmware, unit: number): string => {
    const key = `${fw}-${unit}`;
    let raw = raws.get(key);
    if (!raw) {
      mkdirSync(join(work, key));
      raw = join(work, key, GCP_DISK_NAME);
      writeRawDisk(raw, payload, { firmware: fw, unit, epoch, seed: seedOf(fw), ...(fw === 'efi' ? { uki: ukiOnce() } : {}), ...(opts.size !== undefined ? { size: opts.size } : {}) });
      raws.set(key, raw);
    }
    return raw;
  };
  const lines: string[] = [];
  try {
    for (const format of [...new Set(formats)]) {
      const spec: OutputSpec = BOOT_OUTPUTS[format];
      const seed = seedOf(spec.firmware);
      if (spec.kind === 'kubevirt') {
        const qcow2 = join(work, `${opts.name}.qcow2`);
        convertRawDisk(rawDisk(spec.firmware, MIB), qcow2, 'qcow2', seed, epoch);
        const id = await loadContainerDisk({ qcow2: readFileSync(qcow2), fileName: `${opts.name}.qcow2`, tag: opts.tag!, arch: payload.arch, epoch });
        lines.push(`kubevirt: ${opts.tag} (${id.slice(0, 19)}), disk at /disk/${opts.name}.qcow2`);
        continue;
      }
      const out = join(opts.outDir, spec.file!(opts.name));
      const tmp = join(work, basename(out)); // the final name: a VMDK records its own file name
      if (spec.kind === 'iso-efi') writeIsoEfi({ uki: ukiOnce(), out: tmp, seed, arch: payload.arch, epoch });
      else if (spec.kind === 'gcp') await writeGcpArchive(dirname(rawDisk(spec.firmware, GCP_DISK_UNIT)), tmp, epoch);
      else if (spec.kind === 'raw') copySparse(rawDisk(spec.firmware, MIB), tmp);
      else convertRawDisk(rawDisk(spec.firmware, MIB), tmp, spec.kind, seed, epoch);
      renameSync(tmp, out);
      lines.push(out);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return lines;
}

/** A copy that keeps the disk's holes as holes (a --size 20G disk stays small on the build machine). */
function copySparse(from: string, to: string): void {
  const r = spawnSync('cp', ['--sparse=always', from, to], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new BuildError(`cannot copy ${from} to ${to}: ${(r.error?.message ?? r.stderr).trim()}`);
}

// keel run: the options as the verb table parsed them, checked and turned
// into a VM (pkg/run). Every mistake in them is a usage error, said before
// anything starts.
import { readFileSync } from 'node:fs';
import type { ParsedArgs } from '../../api/commands/args.js';
import { UsageError } from '../../api/commands/usage-error.js';
import { hostArch, machineMismatch, machinesOf, type Arch, type MachineName } from '../image/arch.js';
import { silentProgress, terminalProgress } from '../image/sources/progress.js';
import { MAX_DATA_BYTES } from '../run/instance-data.js';
import { parsePublish, PortSpecError, type PortForward } from '../run/ports.js';
import { findImage, imageArch, type Disk, type NetMode, type RunOptions } from '../run/qemu.js';
import { runVm } from '../run/run-vm.js';
import { vmsRoot } from '../run/vm-dir.js';
import { parseSize } from './build.js';
import { err } from './output.js';
import { requireRootToRun } from './root.js';

/** The architecture the usage errors speak of: --arch, else the image's when it is there, else this machine's. */
function archOfRun(args: ParsedArgs): Arch {
  const given = args.string('arch') as Arch | undefined;
  if (given !== undefined) return given;
  try {
    return imageArch(findImage(args.positionals[0]!));
  } catch {
    return hostArch();
  }
}

/** --qemu-arg, which may not choose the machine: keel run does (--machine), and its first line and vm.json say which. */
function extraQemuArgs(args: ParsedArgs): string[] {
  const extra = args.strings('qemu-arg');
  const machine = extra.find((a) => /^--?(M|machine)(=|$)/.test(a));
  if (machine !== undefined) throw new UsageError(`--qemu-arg ${machine}: keel run chooses qemu's machine; give --machine ${machinesOf(archOfRun(args)).join('|')} instead`, 'run');
  return extra;
}

/** --disk PATH[,size=SIZE][,format=raw|qcow2]: SIZE like 512M or 4G. */
function parseDisk(spec: string): Disk {
  const [path, ...opts] = spec.split(',');
  if (!path) throw new UsageError(`--disk ${spec}: expected PATH[,size=SIZE][,format=raw|qcow2]`, 'run');
  const disk: Disk = { path, format: 'raw' };
  for (const o of opts) {
    const [k, v = ''] = o.split('=');
    if (k === 'format' && (v === 'raw' || v === 'qcow2')) disk.format = v;
    else if (k === 'size' && /^\d+[KMGT]?$/i.test(v)) disk.size = parseSize(v, `--disk ${spec}`, 'run');
    else throw new UsageError(`--disk ${spec}: "${o}" is not size=N[K|M|G|T] or format=raw|qcow2`, 'run');
  }
  return disk;
}

function publishes(args: ParsedArgs, net: NetMode): PortForward[] {
  const specs = args.strings('publish');
  if (specs.length && net === 'none') throw new UsageError('--publish needs a NIC; drop --net none', 'run');
  try {
    return specs.map(parsePublish);
  } catch (e) {
    if (e instanceof PortSpecError) throw new UsageError(e.message, 'run');
    throw e;
  }
}

/** --data STRING or --data-file FILE (not both), as bytes. */
function instanceData(args: ParsedArgs): Buffer | undefined {
  const text = args.string('data');
  const file = args.string('data-file');
  if (text !== undefined && file !== undefined) throw new UsageError('give --data or --data-file, not both', 'run');
  let data: Buffer | undefined;
  if (text !== undefined) data = Buffer.from(text);
  if (file !== undefined) {
    try {
      data = readFileSync(file);
    } catch (e) {
      throw new UsageError(`--data-file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'run');
    }
  }
  if (data && data.length > MAX_DATA_BYTES) throw new UsageError(`instance data of ${data.length} bytes is more than the ${MAX_DATA_BYTES / 2 ** 20} MiB fw_cfg carries well; put large files on a --disk`, 'run');
  return data;
}

function number(args: ParsedArgs, name: string, min: number, what: string): number {
  const text = args.string(name)!;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min) throw new UsageError(`--${name} ${text}: expected ${what}`, 'run');
  return n;
}

export async function cmdRun(args: ParsedArgs): Promise<number> {
  const net = args.string('net') as NetMode;
  const quiet = args.flag('quiet');
  const progress = quiet ? silentProgress : terminalProgress();
  const name = args.string('name');
  const qmp = args.string('qmp');
  const data = instanceData(args);
  const arch = args.string('arch') as Arch | undefined;
  const machine = args.string('machine') as MachineName | undefined;
  const opts: RunOptions = {
    memMb: number(args, 'mem', 128, 'MiB, at least 128'),
    cpus: number(args, 'cpus', 1, 'a whole number of at least 1'),
    accel: args.string('accel') as RunOptions['accel'],
    noReboot: args.flag('no-reboot'),
    ...(qmp ? { qmp } : {}),
    extraArgs: extraQemuArgs(args),
    ...(name ? { name } : {}),
    disks: args.strings('disk').map(parseDisk),
    net,
    uefi: args.flag('uefi'),
    ...(arch !== undefined ? { arch } : {}),
    ...(machine !== undefined ? { machine } : {}),
    publish: publishes(args, net),
    ...(data !== undefined ? { data } : {}),
    progress,
  };
  requireRootToRun(vmsRoot());
  const image = findImage(args.positionals[0]!);
  const wrongMachine = machine && machineMismatch(arch ?? imageArch(image), machine);
  if (wrongMachine) throw new UsageError(wrongMachine, 'run');
  // An error starts a line of its own, not after the last progress line.
  return runVm(image, opts, quiet ? err : (line) => progress.done(line)).finally(() => progress.clear());
}

// qemu for `keel run` (run-vm.ts): the arguments that boot a built image
// (kernel+initrd, an ISO or a disk) with the serial console on stdio, the
// NIC, disks, control channel, instance data and the word that the machine's
// disk controller is empty; and the choice of KVM, used when it really works (a
// time-boxed probe boot, cached), else TCG.
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { archBoot, hostArch, machineFor, type Arch, type MachineName, type QemuMachine } from '../image/arch.js';
import { cacheDir } from '../image/cache.js';
import { withSerialConsole } from '../image/cmdline.js';
import { BuildError, kernelKind } from '../image/kernel.js';
import { CHANNEL_PORT_NAME } from '../../api/channel-frames.js';
import { FW_CFG_EMPTY_CONTROLLER } from '../../model/layout.js';
import { uefiArgs, type UefiFiles } from './firmware.js';
import { type DiskImage, type Image } from './image.js';
import { isoBootArgs } from './iso.js';
import { hostfwd, type PortForward } from './ports.js';
import { fwCfgArgs } from './instance-data.js';
import type { Progress } from '../image/sources/progress.js';

export { findImage, type Image } from './image.js';

export type Accel = 'kvm' | 'tcg';

export interface RunOptions {
  memMb: number;
  cpus: number;
  accel: Accel | 'auto';
  /** Exit qemu instead of rebooting the guest. */
  noReboot: boolean;
  /** A QMP control socket path, for tests and tools (default: in the VM's run directory). */
  qmp?: string;
  extraArgs?: string[];
  /** The VM's name for `keel --vm NAME` (default: the image's name). */
  name?: string;
  disks?: Disk[];
  /** The NIC: user-mode networking that reaches only the host (restricted), or anything the host reaches (user), or none. */
  net?: NetMode;
  /** Boot with UEFI firmware even when the image would boot with a BIOS (--uefi). */
  uefi?: boolean;
  /** The guest's architecture (--arch); by default the kernel's (an arm64 Image), else this machine's. */
  arch?: Arch;
  /** qemu's machine (--machine): one the architecture has (arch.ts); by default its own default. */
  machine?: MachineName;
  /** Host ports forwarded into the guest (--publish); only with a NIC. */
  publish?: PortForward[];
  /** Instance data (--data, --data-file), passed through fw_cfg. */
  data?: Buffer;
  /** What keel run does until the console speaks. */
  progress?: Progress;
}

export type NetMode = 'restricted' | 'user' | 'none';

export interface Disk {
  path: string;
  format: 'raw' | 'qcow2';
  /** Bytes; a missing raw file is created with this size. */
  size?: number;
}

/** The host-side paths of the control channel, when keel run serves one. */
export interface ChannelPaths {
  channel: string;
}

/** The qemu for an architecture (arch.ts; this machine's by default); asked when needed, so the CLI loads on any machine. */
export function qemuBinary(arch?: Arch): string {
  return archBoot(arch).qemu;
}

/** The architecture an image is for: what its kernel file says (kernel+initrd), else this machine's (disks and ISOs are built for amd64). */
export function imageArch(image: Image): Arch {
  if (image.format !== 'kernel+initrd') return hostArch();
  return kernelKind(image.kernel) === 'arm64' ? 'arm64' : 'amd64';
}

/** The qemu arguments that say what to boot. */
function bootArgs(image: Image, arch?: Arch): string[] {
  if (image.format === 'iso') return isoBootArgs(image.iso);
  if (image.format === 'disk') return [];
  return ['-kernel', image.kernel, '-initrd', image.initrd, '-append', withSerialConsole(image.cmdline, arch)];
}

/** restrict=on keeps the guest from reaching out; forwards from the host into it still work. */
function netArgs(net: NetMode = 'restricted', publish: readonly PortForward[] = []): string[] {
  if (net === 'none') return ['-nic', 'none'];
  return ['-nic', ['user', 'model=virtio-net-pci', ...(net === 'restricted' ? ['restrict=on'] : []), ...publish.map(hostfwd)].join(',')];
}

function diskArgs(disks: readonly Disk[] = []): string[] {
  return disks.flatMap((d) => ['-drive', `file=${d.path.replace(/,/g, ',,')},format=${d.format},if=virtio`]);
}

/**
 * A disk image boots from a virtio disk placed after the --disk ones, so the
 * guest names those /dev/vda, /dev/vdb… whatever the image's format. It is
 * opened read-only (snapshot=on: writes go to a throwaway overlay), so the
 * image is never changed and two VMs can boot the same file.
 */
function bootDiskArgs(image: Image): string[] {
  if (image.format !== 'disk') return [];
  const d: DiskImage = image;
  return ['-drive', `if=none,id=keelboot,file=${d.path.replace(/,/g, ',,')},format=${d.driver},snapshot=on`, '-device', 'virtio-blk-pci,drive=keelboot,bootindex=0'];
}

/**
 * Whether keel run puts a drive on the disk controller its machine always has (q35: SATA; pc: IDE): only an ISO boots
 * from there (-cdrom). Hand-given qemu arguments may attach one too, so with any of them keel run does not say. When
 * nothing is there, fw_cfg says so, and keel-init leaves the controller's driver, whose probe of the empty ports costs a
 * TCG boot most of a second, for after boot (init/machine/controller-hold.ts).
 */
function emptyControllerArgs(image: Image, opts: RunOptions, machine: QemuMachine): string[] {
  if (!machine.diskController || image.format === 'iso' || (opts.extraArgs ?? []).length > 0) return [];
  return ['-fw_cfg', `name=${FW_CFG_EMPTY_CONTROLLER},string=${machine.diskController}`];
}

/** The virtio-serial port keel-init serves its control API on (init/vm-channel.ts). */
function channelArgs(ch: ChannelPaths | undefined): string[] {
  if (!ch) return [];
  return [
    '-device', 'virtio-serial-pci,id=keelser',
    '-chardev', `socket,id=keelapi,path=${ch.channel},reconnect=1`,
    '-device', `virtserialport,bus=keelser.0,chardev=keelapi,name=${CHANNEL_PORT_NAME}`,
  ];
}

/** `uefi`: the firmware files when booting with UEFI; without them qemu's BIOS (SeaBIOS) boots. `dataFile`: the instance data. */
export function qemuArgs(image: Image, opts: RunOptions, accel: Accel, channel?: ChannelPaths, uefi?: UefiFiles, dataFile?: string): string[] {
  const boot = archBoot(opts.arch);
  const { machine } = machineFor(opts.arch ?? hostArch(), opts.machine);
  return [
    // Only the devices asked for below. qemu's defaults add an empty CD-ROM drive on the machine's disk controller
    // (with a VGA card, a floppy and a parallel port): on pc keel-init then loaded its drive's driver, which waited
    // about 0.25 s under TCG for the empty drive to answer, and its config-drive search opened the drive (0.15 s).
    '-nodefaults',
    ...machine.args,
    '-accel', accel,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', boot.tcgCpu]),
    '-m', String(opts.memMb),
    '-smp', String(opts.cpus),
    ...(uefi ? uefiArgs(uefi) : []),
    ...bootArgs(image, opts.arch),
    '-display', 'none',
    '-serial', 'mon:stdio',
    ...netArgs(opts.net, opts.publish),
    ...diskArgs(opts.disks),
    ...fwCfgArgs(dataFile),
    ...emptyControllerArgs(image, opts, machine),
    ...bootDiskArgs(image),
    ...channelArgs(channel),
    ...(opts.noReboot ? ['-no-reboot'] : []),
    ...(opts.qmp ? ['-qmp', `unix:${opts.qmp},server=on,wait=off`] : []),
    ...(opts.extraArgs ?? []),
  ];
}

/**
 * Whether KVM really runs a guest here. /dev/kvm can exist and open while
 * guests hang (nested virtualization without the features the kernel needs),
 * so the probe boots the kernel itself for a moment and looks for its banner.
 */
export function kvmUsable(kernel: string, machine?: MachineName): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const st = statSync(kernel);
  const { name, machine: m } = machineFor(hostArch(), machine);
  const key = `${resolve(kernel)}:${st.size}:${Math.round(st.mtimeMs)}:${name}`;
  const file = join(cacheDir(), 'kvm-probe.json');
  let cache: Record<string, boolean> = {};
  try {
    cache = JSON.parse(readFileSync(file, 'utf8')) as Record<string, boolean>;
  } catch {
    /* no cache yet */
  }
  if (key in cache) return cache[key]!;
  const boot = archBoot();
  const r = spawnSync(boot.qemu, [...m.args, '-accel', 'kvm', '-cpu', 'host', '-m', '128', '-kernel', kernel, '-append', `console=${boot.serialConsole} panic=-1`, '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'], {
    encoding: 'utf8',
    timeout: 4000,
  });
  const works = /Linux version/.test(r.stdout ?? '');
  try {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(file, JSON.stringify({ ...cache, [key]: works }));
  } catch {
    /* a read-only cache only costs the probe next time */
  }
  return works;
}

/** `kernel`: the image's kernel (boot-facts.ts), which the probe boots. */
export function chooseAccel(kernel: string, wanted: RunOptions['accel'], arch: Arch = hostArch(), machine?: MachineName): { accel: Accel; why: string } {
  if (wanted === 'tcg') return { accel: 'tcg', why: 'TCG (asked for)' };
  if (arch !== hostArch()) {
    if (wanted === 'kvm') throw new BuildError(`--accel kvm: KVM runs only ${hostArch()} guests on this machine, and this image is for ${arch}; leave --accel out (TCG emulates it)`);
    return { accel: 'tcg', why: `TCG (an ${arch} guest on this ${hostArch()} machine)` };
  }
  if (wanted === 'kvm') return { accel: 'kvm', why: 'KVM (asked for)' };
  if (kvmUsable(kernel, machine)) return { accel: 'kvm', why: 'KVM' };
  return { accel: 'tcg', why: existsSync('/dev/kvm') ? 'TCG (/dev/kvm is present but did not boot a guest)' : 'TCG (no /dev/kvm)' };
}

export function qemuAvailable(arch?: Arch): boolean {
  return spawnSync(qemuBinary(arch), ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Creates missing raw disks at their size, so `--disk data.img,size=1G` works the first time. */
export function prepareDisks(disks: readonly Disk[]): void {
  for (const d of disks) {
    if (existsSync(d.path)) continue;
    if (d.format !== 'raw' || d.size === undefined) throw new BuildError(`--disk ${d.path}: the file does not exist; give size=… to create a raw disk`);
    const fd = openSync(d.path, 'wx', 0o600);
    try {
      ftruncateSync(fd, d.size);
    } finally {
      closeSync(fd);
    }
  }
}

// `keel run`: boots a built image (kernel+initrd, an ISO or a disk) under
// qemu with the serial console on stdio. KVM is used when it really works (a
// time-boxed probe boot, cached), else TCG; UEFI when asked for or when the
// image boots no other way, else the BIOS; both choices are printed.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { archBoot, hostArch, type Arch } from '../image/arch.js';
import { cacheDir } from '../image/cache.js';
import { withSerialConsole } from '../image/cmdline.js';
import { BuildError, kernelKind } from '../image/kernel.js';
import { CHANNEL_PORT_NAME } from '../../api/channel-frames.js';
import { bootFacts, type BootFacts } from './boot-facts.js';
import { serveChannel, type ChannelHost } from './channel-host.js';
import { prepareUefi, uefiArgs, type UefiFiles } from './firmware.js';
import { type DiskImage, type Image } from './image.js';
import { isoBootArgs } from './iso.js';
import { qmpCommand } from './qmp.js';
import { claimVmDir, releaseVmDir } from './vm-dir.js';

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

function netArgs(net: NetMode = 'restricted'): string[] {
  if (net === 'none') return ['-nic', 'none'];
  return ['-nic', `user,model=virtio-net-pci${net === 'restricted' ? ',restrict=on' : ''}`];
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

/** The virtio-serial port keel-init serves its control API on (init/vm-channel.ts). */
function channelArgs(ch: ChannelPaths | undefined): string[] {
  if (!ch) return [];
  return [
    '-device', 'virtio-serial-pci,id=keelser',
    '-chardev', `socket,id=keelapi,path=${ch.channel},reconnect=1`,
    '-device', `virtserialport,bus=keelser.0,chardev=keelapi,name=${CHANNEL_PORT_NAME}`,
  ];
}

/** `uefi`: the firmware files when booting with UEFI; without them qemu's BIOS (SeaBIOS) boots. */
export function qemuArgs(image: Image, opts: RunOptions, accel: Accel, channel?: ChannelPaths, uefi?: UefiFiles): string[] {
  const boot = archBoot(opts.arch);
  return [
    ...boot.qemuMachine,
    '-accel', accel,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', boot.tcgCpu]),
    '-m', String(opts.memMb),
    '-smp', String(opts.cpus),
    ...(uefi ? uefiArgs(uefi) : []),
    ...bootArgs(image, opts.arch),
    '-display', 'none',
    '-serial', 'mon:stdio',
    ...netArgs(opts.net),
    ...diskArgs(opts.disks),
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
export function kvmUsable(kernel: string): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const st = statSync(kernel);
  const key = `${resolve(kernel)}:${st.size}:${Math.round(st.mtimeMs)}`;
  const file = join(cacheDir(), 'kvm-probe.json');
  let cache: Record<string, boolean> = {};
  try {
    cache = JSON.parse(readFileSync(file, 'utf8')) as Record<string, boolean>;
  } catch {
    /* no cache yet */
  }
  if (key in cache) return cache[key]!;
  const boot = archBoot();
  const r = spawnSync(boot.qemu, [...boot.qemuMachine, '-accel', 'kvm', '-cpu', 'host', '-m', '128', '-kernel', kernel, '-append', `console=${boot.serialConsole} panic=-1`, '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'], {
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
export function chooseAccel(kernel: string, wanted: RunOptions['accel'], arch: Arch = hostArch()): { accel: Accel; why: string } {
  if (wanted === 'tcg') return { accel: 'tcg', why: 'TCG (asked for)' };
  if (arch !== hostArch()) {
    if (wanted === 'kvm') throw new BuildError(`--accel kvm: KVM runs only ${hostArch()} guests on this machine, and this image is for ${arch}; leave --accel out (TCG emulates it)`);
    return { accel: 'tcg', why: `TCG (an ${arch} guest on this ${hostArch()} machine)` };
  }
  if (wanted === 'kvm') return { accel: 'kvm', why: 'KVM (asked for)' };
  if (kvmUsable(kernel)) return { accel: 'kvm', why: 'KVM' };
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

/** How long the guest gets to power off after the first ctrl-c/SIGTERM before qemu is stopped. */
const POWEROFF_WAIT_MS = 60_000;

/** What must hold before qemu starts: its binary, memory the initrd fits in, the disks; the image's boot facts. */
function bootable(image: Image, opts: RunOptions, arch: Arch): BootFacts {
  if (!qemuAvailable(arch)) throw new BuildError(`${qemuBinary(arch)} was not found; install it with "apt-get install ${archBoot(arch).packages.qemu}"`);
  const facts = bootFacts(image, opts.uefi ?? false);
  if (opts.memMb < facts.memoryMb) {
    throw new BuildError(`the initrd in ${image.name} unpacks to more than ${opts.memMb} MiB leaves room for: give --mem ${facts.memoryMb} or more`);
  }
  prepareDisks(opts.disks ?? []);
  return facts;
}

/**
 * Boots the image with the console on this terminal; resolves with qemu's
 * exit code. The VM is registered under its name so `keel --vm NAME …`
 * reaches keel-init's control API over a virtio-serial port.
 */
export async function runVm(image: Image, given: RunOptions, say: (line: string) => void): Promise<number> {
  const opts: RunOptions = { ...given, arch: given.arch ?? imageArch(image) };
  const arch = opts.arch!;
  const facts = bootable(image, opts, arch);
  const { accel, why } = chooseAccel(facts.kernel, opts.accel, arch);
  const vm = claimVmDir(opts.name ?? basename(image.name).replace(/\.(iso|img|raw|qcow2|vhdx?|vmdk)$/, ''));
  let channel: ChannelHost | undefined;
  let uefi: UefiFiles | undefined;
  try {
    // An architecture with no BIOS boots its kernel through its UEFI firmware (qemu hands the kernel over by fw_cfg).
    if (facts.firmware === 'uefi' || !archBoot(arch).bios) uefi = prepareUefi(vm.dir, arch);
    channel = await serveChannel(vm.channel, vm.api);
  } catch (err) {
    releaseVmDir(vm);
    if (err instanceof BuildError) throw err;
    throw new BuildError(`keel run: cannot serve the control channel in ${vm.dir}: ${(err as Error).message}`);
  }
  const qmp = opts.qmp ?? vm.qmp;
  const firmware = uefi && facts.firmware !== 'uefi' ? `UEFI (${arch} boots with UEFI)` : facts.why;
  say(`keel run: booting ${image.name} as VM ${vm.name} with ${why}, ${firmware}, ${arch}, ${opts.memMb} MiB, ${opts.cpus} CPU(s); "keel --vm ${vm.name} ps" from another terminal; ctrl-a x quits qemu`);
  const child = spawn(qemuBinary(arch), qemuArgs(image, { ...opts, qmp }, accel, vm, uefi), { stdio: 'inherit' });
  // Told to stop (ctrl-c when the console is not a terminal, SIGTERM, SIGHUP):
  // press the guest's power button so keel shuts down in order, and stop qemu
  // only if that takes too long or the signal comes again.
  let asked = false;
  const stop = (sig: NodeJS.Signals) => {
    if (asked) {
      child.kill('SIGTERM');
      return;
    }
    asked = true;
    say(`keel run: ${sig}: powering the guest off (again to stop qemu at once)`);
    qmpCommand(qmp, 'system_powerdown').catch((err: Error) => {
      say(`keel run: could not press the power button (${err.message}); stopping qemu`);
      child.kill('SIGTERM');
    });
    setTimeout(() => {
      say(`keel run: the guest did not power off in ${POWEROFF_WAIT_MS / 1000} s; stopping qemu`);
      child.kill('SIGTERM');
    }, POWEROFF_WAIT_MS).unref();
  };
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(sig, stop);
  return new Promise((resolveExit) => {
    const done = (code: number) => {
      void (channel?.close() ?? Promise.resolve()).finally(() => {
        releaseVmDir(vm);
        resolveExit(code);
      });
    };
    child.on('error', (err) => {
      say(`keel run: ${err.message}`);
      done(1);
    });
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

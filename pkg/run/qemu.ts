// `keel run`: boots a built image under qemu with the serial console on
// stdio. KVM is used when it really works (a time-boxed probe boot, cached),
// else TCG, and the choice is printed.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheDir } from '../build/cache.js';
import { withSerialConsole } from '../build/cmdline.js';
import { BuildError } from '../build/kernel.js';
import { isoBootArgs, isoInitrd, isoProbeKernel } from './iso.js';

/** What `keel run` boots: a kernel + initrd (+ cmdline), or a bootable ISO. */
export type Image = KernelImage | IsoImage;

export interface KernelImage {
  format: 'kernel+initrd';
  name: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

export interface IsoImage {
  format: 'iso-bios';
  name: string;
  iso: string;
}

export type Accel = 'kvm' | 'tcg';

export interface RunOptions {
  memMb: number;
  cpus: number;
  accel: Accel | 'auto';
  /** Exit qemu instead of rebooting the guest. */
  noReboot: boolean;
  /** A QMP control socket path, for tests and tools. */
  qmp?: string;
  extraArgs?: string[];
}

export const QEMU = 'qemu-system-x86_64';

/**
 * Finds the image for "NAME" or "DIR/NAME": NAME-kernel, NAME-initrd.img and
 * NAME-cmdline, else NAME.iso. "NAME.iso" names an ISO directly.
 */
export function findImage(target: string): Image {
  const base = resolve(target);
  if (base.endsWith('.iso') && existsSync(base)) return { format: 'iso-bios', name: target, iso: base };
  const kernel = `${base}-kernel`;
  const initrd = `${base}-initrd.img`;
  const missing = [kernel, initrd].filter((p) => !existsSync(p));
  if (missing.length && existsSync(`${base}.iso`)) return { format: 'iso-bios', name: target, iso: `${base}.iso` };
  if (missing.length) throw new BuildError(`no image ${target}: ${missing.join(' and ')} not found; build it with "keel build" (an ISO would be ${base}.iso)`);
  const cmdFile = `${base}-cmdline`;
  const cmdline = existsSync(cmdFile) ? readFileSync(cmdFile, 'utf8').trim() : '';
  return { format: 'kernel+initrd', name: target, kernel, initrd, cmdline };
}

/** The qemu arguments that say what to boot. */
function bootArgs(image: Image): string[] {
  if (image.format === 'iso-bios') return isoBootArgs(image.iso);
  return ['-kernel', image.kernel, '-initrd', image.initrd, '-append', withSerialConsole(image.cmdline)];
}

export function qemuArgs(image: Image, opts: RunOptions, accel: Accel): string[] {
  return [
    '-accel', accel,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', 'max']),
    '-m', String(opts.memMb),
    '-smp', String(opts.cpus),
    ...bootArgs(image),
    '-display', 'none',
    '-serial', 'mon:stdio',
    '-nic', 'none',
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
  const r = spawnSync(QEMU, ['-accel', 'kvm', '-cpu', 'host', '-m', '128', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'], {
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

export function chooseAccel(image: Image, wanted: RunOptions['accel']): { accel: Accel; why: string } {
  if (wanted === 'tcg') return { accel: 'tcg', why: 'TCG (asked for)' };
  if (wanted === 'kvm') return { accel: 'kvm', why: 'KVM (asked for)' };
  if (kvmUsable(image.format === 'iso-bios' ? isoProbeKernel(image.iso) : image.kernel)) return { accel: 'kvm', why: 'KVM' };
  return { accel: 'tcg', why: existsSync('/dev/kvm') ? 'TCG (/dev/kvm is present but did not boot a guest)' : 'TCG (no /dev/kvm)' };
}

export function qemuAvailable(): boolean {
  return spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The least memory the image boots in: the kernel unpacks the initramfs, and
 * keel-init copies it into a tmpfs (moving file by file), so about the
 * unpacked size plus room for the kernel, node and the containers.
 * The unpacked size is gzip's trailer (ISIZE, the size mod 2^32).
 */
export function minimumMemoryMb(initrd: string, at?: { offset: number; size: number }): number {
  const fd = openSync(initrd, 'r');
  try {
    const size = at?.size ?? fstatSync(fd).size;
    const tail = Buffer.alloc(4);
    readSync(fd, tail, 0, 4, (at?.offset ?? 0) + size - 4);
    const unpacked = tail.readUInt32LE(0);
    return Math.ceil((unpacked + size) / 2 ** 20) + 192;
  } finally {
    closeSync(fd);
  }
}

/** Boots the image with the console on this terminal; resolves with qemu's exit code. */
export function runVm(image: Image, opts: RunOptions, say: (line: string) => void): Promise<number> {
  if (!qemuAvailable()) throw new BuildError(`${QEMU} was not found; install it with "apt-get install qemu-system-x86"`);
  const iso = image.format === 'iso-bios';
  const need = iso ? minimumMemoryMb(image.iso, isoInitrd(image.iso)) : minimumMemoryMb(image.initrd);
  if (opts.memMb < need) {
    throw new BuildError(`${iso ? `the initrd in ${image.iso}` : image.initrd} unpacks to more than ${opts.memMb} MiB leaves room for: give --mem ${need} or more`);
  }
  const { accel, why } = chooseAccel(image, opts.accel);
  say(`keel run: booting ${image.name} with ${why}, ${opts.memMb} MiB, ${opts.cpus} CPU(s); ctrl-a x quits qemu`);
  const child = spawn(QEMU, qemuArgs(image, opts, accel), { stdio: 'inherit' });
  // If keel run itself is told to stop, the VM must not outlive it.
  const stop = () => child.kill('SIGTERM');
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(sig, stop);
  return new Promise((resolveExit) => {
    child.on('error', (err) => {
      say(`keel run: ${err.message}`);
      resolveExit(1);
    });
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 128 : 1)));
  });
}

// `keel run`: boots a built image under qemu with the serial console on this
// terminal. Until the console speaks, it says what it does (checking the
// image, the KVM probe, waiting for the kernel); the VM is registered under
// its name (vm-dir.ts) so `keel --vm NAME …` reaches keel-init's control API
// over a virtio-serial port, and says what it is in vm.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { findOnPath } from '../../runtime/helper-process.js';
import { archBoot, machineFor, type Arch, type MachineName } from '../image/arch.js';
import { BuildError } from '../image/kernel.js';
import { silentProgress, type Progress } from '../image/sources/progress.js';
import { bootFacts, type BootFacts } from './boot-facts.js';
import { serveChannel, type ChannelHost } from './channel-host.js';
import { prepareUefi, type UefiFiles } from './firmware.js';
import type { Image } from './image.js';
import { DATA_VIA, writeInstanceData } from './instance-data.js';
import { describeForward, portFree } from './ports.js';
import { chooseAccel, imageArch, prepareDisks, qemuArgs, qemuAvailable, qemuBinary, type Accel, type RunOptions } from './qemu.js';
import { qmpCommand } from './qmp.js';
import { claimVmDir, releaseVmDir, writeVmInfo, type VmDir } from './vm-dir.js';

/** How long the guest gets to power off after the first ctrl-c/SIGTERM before qemu is stopped. */
const POWEROFF_WAIT_MS = 60_000;
/** How often the power button is pressed again until the guest powers off. */
const POWER_BUTTON_REPEAT_MS = 5000;

/** Everything checked before the VM is claimed: a mistake here leaves nothing behind. */
async function preflight(image: Image, opts: RunOptions, arch: Arch, progress: Progress): Promise<{ facts: BootFacts; accel: Accel; why: string }> {
  if (!qemuAvailable(arch)) throw new BuildError(`${qemuBinary(arch)} was not found; install it with "apt-get install ${archBoot(arch).packages.qemu}"`);
  progress.step(`keel run: checking ${image.name}`);
  const facts = bootFacts(image, opts.uefi ?? false);
  if (opts.memMb < facts.memoryMb) {
    throw new BuildError(`the initrd in ${image.name} unpacks to more than ${opts.memMb} MiB leaves room for: give --mem ${facts.memoryMb} or more`);
  }
  for (const p of opts.publish ?? []) {
    const busy = await portFree(p);
    if (busy) throw new BuildError(`--publish ${busy}; publish another host port (-p OTHER:${p.guestPort})`);
  }
  prepareDisks(opts.disks ?? []);
  if (opts.accel === 'auto') progress.step('keel run: trying KVM (a short probe boot, cached)');
  return { facts, ...chooseAccel(facts.kernel, opts.accel, arch, opts.machine) };
}

function vmInfo(vm: VmDir, image: Image, opts: RunOptions & { machine: MachineName }, facts: BootFacts, accel: Accel, qmp: string): Parameters<typeof writeVmInfo>[1] {
  return {
    name: vm.name,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    image: image.name,
    format: image.format,
    firmware: facts.firmware,
    machine: opts.machine,
    accel,
    memMb: opts.memMb,
    cpus: opts.cpus,
    net: opts.net ?? 'restricted',
    ports: (opts.publish ?? []).map(describeForward),
    disks: (opts.disks ?? []).map((d) => ({ path: d.path, format: d.format })),
    ...(opts.data !== undefined ? { data: { bytes: opts.data.length, via: DATA_VIA } } : {}),
    qemuArgs: opts.extraArgs ?? [],
    sockets: { api: vm.api, qmp },
  };
}

/**
 * qemu's console output passes through keel run, so that what keel run said
 * while waiting can be cleared before the first byte of it. stdin stays
 * qemu's own: on a terminal qemu makes it raw, and ctrl-a x is its.
 */
function startQemu(arch: Arch, args: string[], progress: Progress, say: (line: string) => void): ChildProcess {
  const child = spawn(...tiedToUs(qemuBinary(arch), args), { stdio: ['inherit', 'pipe', 'inherit'] });
  const started = Date.now();
  progress.step('keel run: qemu started; waiting for the console');
  const ticker = setInterval(() => progress.update(`keel run: qemu started; waiting for the console (${Math.round((Date.now() - started) / 1000)} s)`), 1000);
  let spoke = false;
  child.stdout!.on('data', (d: Buffer) => {
    if (!spoke) {
      spoke = true;
      clearInterval(ticker);
      progress.done(`keel run: the console speaks after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    // Once nobody reads keel run's output (`keel run … | head`), qemu's is read and dropped while the guest powers off.
    if (process.stdout.writable) process.stdout.write(d);
  });
  child.on('exit', () => clearInterval(ticker));
  child.on('error', (err) => say(`keel run: ${err.message}`));
  return child;
}

/**
 * qemu as a child that dies with keel run: util-linux's setpriv sets the
 * parent-death signal and execs it (same pid). Without it, keel run killed
 * (SIGKILL, an OOM kill) left qemu running with no `keel --vm` to reach it,
 * since the VM's registration goes with keel run's pid.
 */
function tiedToUs(file: string, args: string[]): [string, string[]] {
  const setpriv = findOnPath('setpriv');
  return setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', file, ...args]] : [file, args];
}

/**
 * Told to stop (ctrl-c when the console is not a terminal, SIGTERM, SIGHUP):
 * press the guest's power button so keel shuts down in order, and stop qemu
 * only if that takes too long or the signal comes again.
 */
function stopOnSignals(child: ChildProcess, qmp: string, say: (line: string) => void): void {
  let asked = false;
  const stop = (why: string) => {
    if (asked) {
      child.kill('SIGTERM');
      return;
    }
    asked = true;
    say(`keel run: ${why}: powering the guest off (again to stop qemu at once)`);
    const press = () =>
      qmpCommand(qmp, 'system_powerdown').catch((err: Error) => {
        say(`keel run: could not press the power button (${err.message}); stopping qemu`);
        child.kill('SIGTERM');
      });
    void press();
    // A press before the guest's kernel and keel-init listen for it (early in boot) is lost: press again now and then.
    const again = setInterval(() => void press(), POWER_BUTTON_REPEAT_MS);
    child.once('exit', () => clearInterval(again));
    setTimeout(() => {
      clearInterval(again);
      say(`keel run: the guest did not power off in ${POWEROFF_WAIT_MS / 1000} s; stopping qemu`);
      child.kill('SIGTERM');
    }, POWEROFF_WAIT_MS).unref();
  };
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(sig, () => stop(sig));
  // The reader of the console went away (EPIPE): as a closed terminal's SIGHUP, in place of the CLI's rule for
  // EPIPE (exit at once), which would leave the guest to die with qemu. What keel run says goes to stderr.
  process.stdout.removeAllListeners('error');
  process.stdout.on('error', () => {
    if (!asked) stop('its output was closed');
  });
}

/** Boots the image with the console on this terminal; resolves with qemu's exit code. `say` prints a line that stays (after clearing progress). */
export async function runVm(image: Image, given: RunOptions, say: (line: string) => void): Promise<number> {
  const arch = given.arch ?? imageArch(image);
  // The machine is settled here, once: a machine this architecture does not have is an error before anything starts.
  const opts = { ...given, arch, machine: machineFor(arch, given.machine).name };
  const progress = opts.progress ?? silentProgress;
  const { facts, accel, why } = await preflight(image, opts, arch, progress);
  const vm = claimVmDir(opts.name ?? basename(image.name).replace(/\.(iso|img|raw|qcow2|vhdx?|vmdk)$/, ''));
  let channel: ChannelHost | undefined;
  let uefi: UefiFiles | undefined;
  let dataFile: string | undefined;
  try {
    // An architecture with no BIOS boots its kernel through its UEFI firmware (qemu hands the kernel over by fw_cfg).
    if (facts.firmware === 'uefi' || !archBoot(arch).bios) uefi = prepareUefi(vm.dir, arch);
    if (opts.data !== undefined) dataFile = writeInstanceData(opts.data, vm.dir);
    channel = await serveChannel(vm.channel, vm.api);
  } catch (err) {
    releaseVmDir(vm);
    if (err instanceof BuildError) throw err;
    throw new BuildError(`keel run: cannot serve the control channel in ${vm.dir}: ${(err as Error).message}`);
  }
  const qmp = opts.qmp ?? vm.qmp;
  writeVmInfo(vm, vmInfo(vm, image, opts, facts, accel, qmp));
  const ports = opts.publish?.length ? `; ${opts.publish.map(describeForward).join(', ')}` : '';
  const firmware = uefi && facts.firmware !== 'uefi' ? `UEFI (${arch} boots with UEFI)` : facts.why;
  say(`keel run: booting ${image.name} as VM ${vm.name} with ${why}, ${firmware}, ${arch}, ${opts.machine} machine, ${opts.memMb} MiB, ${opts.cpus} CPU(s)${ports}; "keel --vm ${vm.name} ps" from another terminal; ctrl-a x quits qemu`);
  const child = startQemu(arch, qemuArgs(image, { ...opts, qmp }, accel, vm, uefi, dataFile), progress, say);
  stopOnSignals(child, qmp, say);
  return new Promise((resolveExit) => {
    const done = (code: number) => {
      void (channel?.close() ?? Promise.resolve()).finally(() => {
        releaseVmDir(vm);
        resolveExit(code);
      });
    };
    child.on('error', () => done(1));
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

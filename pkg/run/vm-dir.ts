// Where a running VM can be found from the host: /run/keel/vms/NAME (0700,
// root only, like keel's control socket inside) holds keel run's pid, the
// control channel's sockets and QMP. `keel --vm NAME …` looks here.
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiUnreachable, expectAnswer } from '../../api/client.js';
import { pidAlive } from '../../runtime/pids.js';
import { BuildError } from '../image/kernel.js';

export interface VmDir {
  name: string;
  dir: string;
  /** The CLI's end: HTTP as on keel.sock inside the guest. */
  api: string;
  /** qemu's end of the virtio-serial port. */
  channel: string;
  qmp: string;
}

export function vmsRoot(): string {
  return process.env.KEEL_VM_DIR ?? '/run/keel/vms';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function pathsOf(name: string): VmDir {
  const dir = join(vmsRoot(), name);
  return { name, dir, api: join(dir, 'api.sock'), channel: join(dir, 'channel.sock'), qmp: join(dir, 'qmp.sock') };
}

function ownerPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes NAME for this keel run; a directory left by a dead keel run is reused. */
export function claimVmDir(name: string): VmDir {
  if (!NAME.test(name)) throw new BuildError(`--name ${JSON.stringify(name)}: use letters, digits, ".", "_" and "-" (at most 64)`);
  const p = pathsOf(name);
  const pid = ownerPid(p.dir);
  if (pid !== undefined) throw new BuildError(`a VM named ${name} is already running (keel run pid ${pid}); give this one another --name`);
  rmSync(p.dir, { recursive: true, force: true });
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(p.dir, 'pid'), `${process.pid}\n`);
  return p;
}

export function releaseVmDir(vm: VmDir): void {
  if (ownerPid(vm.dir) === process.pid) rmSync(vm.dir, { recursive: true, force: true });
}

export function runningVms(): string[] {
  if (!existsSync(vmsRoot())) return [];
  return readdirSync(vmsRoot()).filter((n) => ownerPid(join(vmsRoot(), n)) !== undefined).sort();
}

/** A VM that cannot be reached: none by that name runs, or its folder is not this user's to read (exit code 3, as any unreachable keel). */
export class VmUnreachable extends ApiUnreachable {}

/** The VM's folder, or VmUnreachable saying why not: not running (with those that are), or permission denied. */
function runningVmDir(name: string): VmDir {
  const p = pathsOf(name);
  try {
    accessSync(vmsRoot(), constants.R_OK | constants.X_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') throw new VmUnreachable(`cannot reach VM ${name}: permission denied on ${vmsRoot()} (root's, as the VMs' control sockets are); run as root`);
  }
  if (ownerPid(p.dir) === undefined || !existsSync(p.api)) {
    const running = runningVms();
    throw new VmUnreachable(`no VM named ${name} is running${running.length ? ` (running: ${running.join(', ')})` : ''}; start one with "keel run --name ${name} IMAGE"`);
  }
  return p;
}

/** How long keel --vm waits for keel inside the VM to answer at all (it may still be booting). */
export const VM_ANSWER_MS = 30_000;

/** That keel inside VM `name` answers, within VM_ANSWER_MS; else VmUnreachable saying so. */
export async function vmAnswers(name: string, socket: string, ms = VM_ANSWER_MS): Promise<void> {
  try {
    await expectAnswer(socket, ms, `VM ${name} is running, but keel inside it did not answer within ${ms / 1000} s: it may still be booting, or be stopped (see its console, or keel run's output)`);
  } catch (err) {
    throw err instanceof ApiUnreachable && !(err instanceof VmUnreachable) ? new VmUnreachable(err.message) : err;
  }
}

/** The API socket of a running VM. */
export function vmApiSocket(name: string): string {
  return runningVmDir(name).api;
}

/** What keel run says about the VM it started (vm.json in its folder), for keel --vm VM inspect. */
export interface VmInfo {
  name: string;
  /** keel run's pid. */
  pid: number;
  startedAt: string;
  image: string;
  format: string;
  firmware: string;
  /** qemu's machine (q35, pc, virt). */
  machine: string;
  accel: string;
  memMb: number;
  cpus: number;
  net: string;
  /** Docker's way: 127.0.0.1:8080->80/tcp. */
  ports: string[];
  disks: Array<{ path: string; format: string }>;
  /** The instance data passed with --data or --data-file, and how it reaches the guest. */
  data?: { bytes: number; via: string };
  qemuArgs: string[];
  sockets: { api: string; qmp: string };
}

export function writeVmInfo(vm: VmDir, info: VmInfo): void {
  writeFileSync(join(vm.dir, 'vm.json'), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
}

export function readVmInfo(name: string): VmInfo {
  const p = runningVmDir(name);
  try {
    return JSON.parse(readFileSync(join(p.dir, 'vm.json'), 'utf8')) as VmInfo;
  } catch {
    throw new VmUnreachable(`VM ${name} has not said what it is yet (no ${join(p.dir, 'vm.json')}); try again in a moment`);
  }
}

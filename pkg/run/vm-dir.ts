// Where a running VM can be found from the host: /run/keel/vms/NAME (0700,
// root only, like keel's control socket inside) holds keel run's pid, the
// control channel's sockets and QMP. `keel --vm NAME …` looks here.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The API socket of a running VM, or an error that lists the ones that are running. */
export function vmApiSocket(name: string): string {
  const p = pathsOf(name);
  if (ownerPid(p.dir) === undefined || !existsSync(p.api)) {
    const running = runningVms();
    throw new BuildError(`no VM named ${name} is running${running.length ? ` (running: ${running.join(', ')})` : ''}; start one with "keel run --name ${name} IMAGE"`);
  }
  return p.api;
}

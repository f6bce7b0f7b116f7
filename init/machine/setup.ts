// Setting up a machine when keel is the first process of a booting kernel:
// the root out of the initramfs, the standard mounts, cgroup2 controllers,
// hostname, loopback, ctrl-alt-del as a signal, and a generous fd limit.
// Each step reports its own failure and the others still run: a machine
// that lacks one mount is more debuggable than one that stopped booting.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { KeelEventInput } from '../../events/bus.js';
import { MACHINE_MOUNTS, mountOne, readMountInfo, type MountEntry } from './mounts.js';
import { rootIsInitramfs, switchRootAndReexec } from './switch-root.js';
import { RB_DISABLE_CAD, RLIMIT_NOFILE, type Sys } from '../core/sys.js';
import { loadModules } from './modules.js';

const PROC: MountEntry = MACHINE_MOUNTS[0]!;
const CONTROLLERS = ['cpu', 'memory', 'pids', 'io', 'cpuset'];
const NOFILE = 1 << 20;

/** Called first of all in machine mode: either moves the root and re-executes, or returns. */
export function leaveInitramfs(sys: Sys): void {
  if (!existsSync('/proc/self')) mountOne(sys, PROC);
  if (rootIsInitramfs()) switchRootAndReexec(sys);
}

function attempt(emit: (e: KeelEventInput) => void, what: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    emit({ kind: 'machine.error', level: 'warn', message: `machine set-up: ${what}: ${(err as Error).message}`, step: what });
    return false;
  }
}

export function enableControllers(root = '/sys/fs/cgroup'): string[] {
  const available = readFileSync(`${root}/cgroup.controllers`, 'utf8').trim().split(/\s+/);
  const enabled: string[] = [];
  // One write per controller: a controller that cannot be enabled must not block the rest.
  for (const c of CONTROLLERS.filter((c) => available.includes(c))) {
    try {
      writeFileSync(`${root}/cgroup.subtree_control`, `+${c}`);
      enabled.push(c);
    } catch {
      /* reported by the caller through the list */
    }
  }
  return enabled;
}

export function readHostnameFile(path = '/etc/hostname'): string | undefined {
  try {
    const name = readFileSync(path, 'utf8').trim();
    return name === '' ? undefined : name;
  } catch {
    return undefined;
  }
}

export function setUpMachine(sys: Sys, emit: (e: KeelEventInput) => void): void {
  const mounted = new Set(readMountInfo().map((m) => m.target));
  for (const m of MACHINE_MOUNTS) {
    if (mounted.has(m.target)) continue; // /proc and /dev come up early, before the switch from the initramfs
    attempt(emit, `mount ${m.fstype} on ${m.target}`, () => mountOne(sys, m));
  }
  attempt(emit, 'cgroup controllers', () => {
    const enabled = enableControllers();
    emit({ kind: 'machine.cgroups', message: `cgroup2 controllers enabled: ${enabled.join(' ') || 'none'}`, controllers: enabled });
  });
  attempt(emit, 'ctrl-alt-del', () => sys.reboot(RB_DISABLE_CAD));
  attempt(emit, 'RLIMIT_NOFILE', () => sys.setrlimit(RLIMIT_NOFILE, NOFILE, NOFILE));
  attempt(emit, 'loopback', () => sys.interfaceUp('lo'));
  attempt(emit, 'kernel modules', () => {
    const m = loadModules(sys);
    if (m.loaded || m.failed.length) {
      emit({ kind: 'machine.modules', level: m.failed.length ? 'warn' : 'info', message: `loaded ${m.loaded} kernel module(s)${m.failed.length ? `; failed: ${m.failed.join('; ')}` : ''}`, loaded: m.loaded, failed: m.failed });
    }
  });
  mkdirSync('/run/keel', { recursive: true });
}

/** The hostname: the manifest's, else /etc/hostname's, else unchanged. */
export function setHostname(sys: Sys, fromManifest: string | undefined, emit: (e: KeelEventInput) => void): void {
  const name = fromManifest ?? readHostnameFile();
  if (!name) return;
  if (attempt(emit, 'hostname', () => sys.sethostname(name))) emit({ kind: 'machine.hostname', message: `hostname ${name}`, hostname: name });
}

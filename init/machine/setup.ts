// Setting up a machine when keel is the first process of a booting kernel
// (once the root has left the initramfs, switch-root.ts): the standard
// mounts, cgroup2 controllers, hostname, loopback, ctrl-alt-del as a signal,
// a generous fd limit, and the kernel modules, which load in the background.
// Each step reports its own failure and the others still run: a machine
// that lacks one mount is more debuggable than one that stopped booting.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { MODPROBE_HELPER, MODULE_LIST } from '../../model/layout.js';
import type { KeelEventInput } from '../../events/bus.js';
import { MACHINE_MOUNTS, mountOne, readMountInfo } from './mounts.js';
import { RB_DISABLE_CAD, RLIMIT_NOFILE, type Sys } from '../core/sys.js';
import { CONTROLLER_HOLD } from './controller-hold.js';
import { loadModules } from './modules.js';

const CONTROLLERS = ['cpu', 'memory', 'pids', 'io', 'cpuset'];
const NOFILE = 1 << 20;

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

/**
 * Sets the machine up; kernel modules load in the background, and `modules` settles once those for the devices
 * present are in (never rejects). `loadWaitingModules` loads the rest (drivers for devices not there, feature modules
 * the kernel has not asked for), once.
 */
export function setUpMachine(sys: Sys, emit: (e: KeelEventInput) => void): { modules: Promise<void>; loadWaitingModules: () => void } {
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
  // Before any module is wanted: the kernel runs the helper for a feature module keel-init leaves to be asked for.
  if (existsSync(MODPROBE_HELPER)) attempt(emit, 'modprobe helper', () => writeFileSync('/proc/sys/kernel/modprobe', MODPROBE_HELPER));
  const t0 = performance.now();
  const failedToLoad = (err: Error) => emit({ kind: 'machine.error', level: 'warn', message: `machine set-up: kernel modules: ${err.message}`, step: 'kernel modules' });
  const booting = loadModules(sys, MODULE_LIST, '/sys', CONTROLLER_HOLD);
  const modules = booting.then((m) => {
    if (!m.loaded && !m.failed.length) return;
    const ms = Math.round(performance.now() - t0);
    const slowest = m.slowest.map((s) => `${s.module} ${s.ms} ms`).join(', ');
    const waiting = m.waiting.length ? `; drivers for devices not here load after boot: ${m.waiting.join(', ')}` : '';
    const empty = m.emptyByHost.map((e) => `; ${e.driver} loads after boot: ${e.why}`).join('');
    const onRequest = m.onRequest.length ? `; loaded when the kernel asks, else after boot: ${m.onRequest.join(', ')}` : '';
    emit({ kind: 'machine.modules', level: m.failed.length ? 'warn' : 'info', message: `loaded ${m.loaded} kernel module(s)${failedText(m.failed)}${waiting}${empty}${onRequest}`, loaded: m.loaded, failed: m.failed, waiting: m.waiting, emptyByHost: m.emptyByHost.map((e) => e.driver), onRequest: m.onRequest, ms, slowest });
    emit({ kind: 'machine.modules.time', level: 'debug', message: `kernel modules took ${ms} ms (finding the drivers for the devices present: ${m.scanMs} ms); slowest: ${slowest}` });
  }, failedToLoad);
  let waitingStarted = false;
  const loadWaitingModules = () => {
    if (waitingStarted) return;
    waitingStarted = true;
    void booting
      .then(async (b) => {
        if (b.waiting.length === 0 && b.emptyByHost.length === 0 && b.onRequest.length === 0) return;
        const m = await b.loadWaiting();
        emit({ kind: 'machine.modules', level: m.failed.length ? 'warn' : 'debug', message: `loaded ${m.loaded} kernel module(s) after boot (drivers for devices added since or behind an empty controller, features not asked for)${failedText(m.failed)}`, loaded: m.loaded, failed: m.failed, waiting: [] });
      })
      .catch(failedToLoad);
  };
  mkdirSync('/run/keel', { recursive: true });
  return { modules, loadWaitingModules };
}

const failedText = (failed: readonly string[]) => (failed.length ? `; failed: ${failed.join('; ')}` : '');

/** The hostname: the manifest's, else /etc/hostname's, else unchanged. */
export function setHostname(sys: Sys, fromManifest: string | undefined, emit: (e: KeelEventInput) => void): void {
  const name = fromManifest ?? readHostnameFile();
  if (!name) return;
  if (attempt(emit, 'hostname', () => sys.sethostname(name))) emit({ kind: 'machine.hostname', message: `hostname ${name}`, hostname: name });
}

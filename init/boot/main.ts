// keel-init: the entry point of PID 1.
import { existsSync, readFileSync } from 'node:fs';
import { loadManifest, ManifestError, type Manifest } from '../../model/index.js';
import { EventBus } from '../../events/bus.js';
import { parseArgs, USAGE, type InitArgs } from '../core/args.js';
import { enterEmergency } from '../core/emergency.js';
import { installGuard } from '../core/guard.js';
import { attachConsole, attachLog, consoleLine, consoleWriter, openLog } from '../core/log.js';
import { leaveInitramfs, setHostname, setUpMachine } from '../machine/setup.js';
import { unmountWritable } from '../machine/mounts.js';
import { trackChildProcesses } from '../core/owned-children.js';
import { remainingProcesses, signalRemaining } from '../core/processes.js';
import { Reaper } from '../core/reaper.js';
import { runShutdown, type StopHook } from '../core/shutdown.js';
import { installSignalHandlers, type PowerAction } from '../core/signals.js';
import { RB_AUTOBOOT, RB_HALT_SYSTEM, RB_POWER_OFF, sys, type Sys } from '../core/sys.js';
import { VERSION } from '../../model/version.js';
import { Runc, runcVersion } from '../../runtime/runc.js';
import { containerId } from '../../runtime/bundle.js';
import { failed, runPhase, type PhaseDeps } from '../../runtime/phase.js';
import type { ServiceDeps } from '../../services/service.js';
import { Supervisor } from '../../services/supervisor.js';
import { ControlApi } from '../../api/server.js';
import { runtimeHost } from '../core/runtime-host.js';
import { notifyHub } from '../core/notify-hub.js';
import { watchPowerButton } from '../machine/power-button.js';
import { flushVmChannel, startVmChannel } from '../machine/vm-channel.js';
import { ConsolePrompt, consoleIO, type ConsoleAccess } from '../console/prompt.js';
import { ownConsole } from '../console/own.js';
import { remoteTerminals } from '../console/remote-terminals.js';
import { verifyPassword } from '../../model/password.js';
import { bootPlan } from './plan.js';
import { activeConsole, openExtraConsoles, type ExtraConsoles } from '../console/consoles.js';
import { dirname, join, resolve } from 'node:path';

const REBOOT_CMD: Record<PowerAction, number> = { poweroff: RB_POWER_OFF, reboot: RB_AUTOBOOT, halt: RB_HALT_SYSTEM };

export interface BootTimes {
  startedAt: number;
  onbootDoneAt?: number;
  completeAt?: number;
  servicesReadyAt?: number;
  uptimeAtStartMs?: number;
  onboot?: Array<{ name: string; code: number | null; signal: string | null; ms: number; failed: boolean }>;
}

interface Init {
  bus: EventBus;
  /** Held-back console lines are released at shutdown: an operator must see it happen. */
  releaseConsole?: () => void;
  supervisor?: Supervisor;
  boot: BootTimes;
  reaper?: Reaper;
  write: (text: string) => void;
  sys: Sys;
  args: InitArgs;
  machine: boolean;
  isPid1: boolean;
  manifest?: Manifest;
  stopHooks: StopHook[];
  shuttingDown: boolean;
}

function uptimeMs(): number | undefined {
  try {
    return Math.round(parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!) * 1000);
  } catch {
    return undefined;
  }
}

function requestShutdown(init: Init, action: PowerAction, why: string): void {
  if (init.shuttingDown) {
    init.bus.emit({ kind: 'shutdown.ignored', message: `${why}: already shutting down` });
    return;
  }
  init.shuttingDown = true;
  init.releaseConsole?.();
  init.bus.emit({ kind: 'shutdown.requested', message: `${why}: ${action}`, action, reason: why });
  void runShutdown(action, {
    stopHooks: init.stopHooks,
    signalAll: (signal) => signalRemaining(init.isPid1, signal),
    remaining: () => remainingProcesses(init.isPid1),
    graceMs: init.manifest?.shutdown.grace ?? 5000,
    sync: () => init.sys.sync(),
    unmount: () => (init.machine ? unmountWritable(init.sys) : ''),
    finish: (a) => finish(init, a),
    emit: (e) => init.bus.emit(e),
    flushReplies: flushVmChannel,
  });
}

function finish(init: Init, action: PowerAction): void {
  if (!init.machine) process.exit(0);
  try {
    init.sys.reboot(REBOOT_CMD[action]);
  } catch (err) {
    init.bus.emit({ kind: 'shutdown.error', level: 'error', message: `reboot(2) failed: ${(err as Error).message}; the machine is idle` });
  }
}

function bootReport(init: Init): Record<string, unknown> {
  const b = init.boot;
  const rel = (t: number | undefined) => (t === undefined ? undefined : t - b.startedAt);
  return {
    startedAt: new Date(b.startedAt).toISOString(),
    kernelToKeelMs: b.uptimeAtStartMs,
    onbootMs: rel(b.onbootDoneAt),
    bootCompleteMs: rel(b.completeAt),
    servicesReadyMs: rel(b.servicesReadyAt),
    onboot: b.onboot ?? [],
    mode: init.machine ? 'machine' : 'namespace',
  };
}

function startApi(init: Init): void {
  const api = new ControlApi({
    bus: init.bus,
    supervisor: () => init.supervisor,
    bootReport: () => bootReport(init),
    power: (action) => requestShutdown(init, action, `keel ${action}`),
    terminals: remoteTerminals({ socket: join(init.args.stateDir, 'keel.sock'), runcRoot: join(init.args.stateDir, 'runc'), containerOf: (name) => (init.supervisor?.get(name)?.pid !== undefined ? containerId('services', name) : undefined) }),
  });
  const path = join(init.args.stateDir, 'keel.sock');
  api.listen(path).then(
    () => init.bus.emit({ kind: 'api.listening', level: 'debug', message: `control API on ${path}`, path }),
    (err: Error) => init.bus.emit({ kind: 'api.error', level: 'error', message: `control API could not listen on ${path}: ${err.message}` }),
  );
}

/**
 * Console access comes from the manifest. The prompt must exist in the
 * emergency state too, when the manifest may be broken: then a manifest that
 * could not be read gives an open console, as a rescue shell needs.
 */
function consoleAccess(manifest: Manifest | undefined): ConsoleAccess {
  const c = manifest?.console;
  if (c?.access === 'off') return { mode: 'off' };
  if (c?.access === 'password' && c.password) {
    const hash = c.password;
    return { mode: 'password', verify: (pw) => verifyPassword(pw, hash) };
  }
  return { mode: 'open' };
}

/** Container names can stand for ids (uid: other-container): 100 and up, in manifest order. */
function idsByName(manifest: Manifest): Map<string, number> {
  const ids = new Map<string, number>();
  for (const c of [...manifest.onboot, ...manifest.services, ...manifest.onshutdown]) if (!ids.has(c.name)) ids.set(c.name, 100 + ids.size);
  return ids;
}

function phaseDeps(init: Init, reaper: Reaper): PhaseDeps & ServiceDeps {
  const host = runtimeHost(init.sys, reaper);
  const ids = idsByName(init.manifest!);
  return {
    driver: new Runc(join(init.args.stateDir, 'runc'), host),
    host,
    stateDir: init.args.stateDir,
    baseDir: dirname(resolve(init.args.manifest)),
    idOf: (name) => ids.get(name),
    emit: (e) => init.bus.emit(e),
    notifyHub: notifyHub(init.sys, init.args.stateDir),
    onLine: (name, _stream, line) => init.write(`  ${name} | ${line}\n`),
  };
}

function bootManifest(init: Init): boolean {
  try {
    init.manifest = loadManifest(init.args.manifest);
    return true;
  } catch (err) {
    if (err instanceof ManifestError) {
      enterEmergency(init.bus, `the manifest ${init.args.manifest} is not valid`, err.message.split('\n'));
    } else {
      enterEmergency(init.bus, `the manifest ${init.args.manifest} could not be loaded: ${(err as Error).message}`);
    }
    return false;
  }
}

/** Test-only fault injection (KEEL_INJECT_FAULT=uncaught,rejection): provokes the faults the guard must contain. */
function injectFaults(): void {
  const faults = (process.env.KEEL_INJECT_FAULT ?? '').split(',');
  if (faults.includes('uncaught')) setTimeout(() => { throw new Error('injected uncaught exception'); }, 10);
  if (faults.includes('rejection')) setTimeout(() => void Promise.reject(new Error('injected unhandled rejection')), 10);
}

export function main(argv: readonly string[]): void {
  const bus = new EventBus();
  installGuard(bus);
  trackChildProcesses();
  const stdoutWrite = consoleWriter();
  let extraConsoles: ExtraConsoles | undefined;
  const write = (text: string) => {
    stdoutWrite(text);
    extraConsoles?.write(text);
  };
  const consoleSink = attachConsole(bus, write);

  const args = parseArgs(argv);
  const isPid1 = process.pid === 1;
  if (!isPid1 && (args.help || args.version || args.errors.length > 0)) {
    if (args.version) write(`keel-init ${VERSION}\n`);
    else if (args.help) write(USAGE);
    else write(`keel-init: ${args.errors.join('; ')}\n${USAGE}`);
    process.exitCode = args.errors.length > 0 ? 2 : 0;
    return;
  }
  const machine = args.mode === 'machine' || (args.mode === 'auto' && isPid1 && !existsSync('/proc/self'));

  let s: Sys;
  try {
    s = sys();
  } catch (err) {
    // Without the addon there is no mount, reap or reboot: say why and stay up.
    bus.emit({ kind: 'boot.emergency', level: 'error', message: `EMERGENCY: ${(err as Error).message}` });
    setInterval(() => {}, 1 << 30);
    return;
  }
  if (machine) {
    try {
      leaveInitramfs(s); // returns only once / is no longer the initramfs
    } catch (err) {
      bus.emit({ kind: 'machine.error', level: 'error', message: `could not move the root out of the initramfs: ${(err as Error).message}; containers will fail to start` });
    }
  }
  const init: Init = { bus, sys: s, write, args, machine, isPid1, stopHooks: [], shuttingDown: false, boot: { startedAt: Date.now(), ...(machine ? { uptimeAtStartMs: uptimeMs() } : {}) } };
  bus.emit({ kind: 'keel.start', message: `keel ${VERSION} starting as pid ${process.pid} (${machine ? 'machine' : 'namespace'} mode)`, version: VERSION, mode: machine ? 'machine' : 'namespace' });
  for (const e of args.errors) bus.emit({ kind: 'keel.args', level: 'warn', message: `ignoring bad argument: ${e}` });

  if (machine) {
    // The kernel starts init with no PATH; runc, ip and the shell live in the usual places.
    process.env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    setUpMachine(s, (e) => bus.emit(e));
    try {
      let active: string | undefined;
      try {
        active = activeConsole(readFileSync('/sys/class/tty/console/active', 'utf8'));
      } catch {
        /* older kernels: assume the last console= */
      }
      extraConsoles = openExtraConsoles(readFileSync('/proc/cmdline', 'utf8'), active);
      // What was said before they opened, so every console tells the whole boot.
      for (const e of bus.since(0)) if (e.level !== 'debug') extraConsoles.write(consoleLine(e));
      if (extraConsoles.names.length) bus.emit({ kind: 'console.extra', message: `also writing to console(s) ${extraConsoles.names.join(', ')}` });
    } catch {
      /* no /proc/cmdline: only /dev/console then */
    }
  }
  ownConsole(bus, consoleSink, machine); // colour, and kernel messages off keel's console
  const log = openLog(args.stateDir);
  attachLog(bus, log.logger);
  if (log.error) bus.emit({ kind: 'keel.log', level: 'warn', message: `no log file in ${args.stateDir}: ${log.error}` });

  const reaper = new Reaper(s);
  init.reaper = reaper;
  try {
    reaper.start();
  } catch (err) {
    bus.emit({ kind: 'keel.reaper', level: 'error', message: `could not become a child subreaper: ${(err as Error).message}` });
  }
  installSignalHandlers((signal, action) => {
    if (action === 'log') bus.emit({ kind: 'signal.hup', message: `${signal} received (reload is not supported yet)` });
    else requestShutdown(init, action, signal);
  });
  if (machine) {
    const n = watchPowerButton(
      () => requestShutdown(init, 'poweroff', 'power button'),
      (msg) => bus.emit({ kind: 'machine.input', level: 'warn', message: `power button: ${msg}` }),
    );
    if (n > 0) bus.emit({ kind: 'machine.powerbutton', level: 'debug', message: `watching ${n} power button device(s)` });
  }

  startApi(init);
  // In a VM started by keel run: the same API over virtio-serial, for `keel --vm NAME`.
  if (machine) startVmChannel(join(args.stateDir, 'keel.sock'), (e) => bus.emit(e));
  const manifestOk = bootManifest(init);
  // The prompt comes up in the emergency state too, so it is installed before giving up on a bad manifest.
  const prompt = new ConsolePrompt({
    access: consoleAccess(init.manifest),
    socket: join(args.stateDir, 'keel.sock'),
    runcRoot: join(args.stateDir, 'runc'),
    containerOf: (name) => (init.supervisor?.get(name)?.pid !== undefined ? containerId('services', name) : undefined),
    sink: consoleSink,
  }, consoleIO(write));
  init.releaseConsole = () => prompt.release();
  if (prompt.install()) bus.emit({ kind: 'console.prompt', message: 'press Enter for the keel> prompt' });
  if (!manifestOk) return;
  const manifest = init.manifest!;
  try {
    bus.emit({ kind: 'boot.plan', message: bootPlan(manifest, readFileSync(args.manifest, 'utf8'), args.manifest) });
  } catch {
    /* the plan is a courtesy; boot goes on */
  }
  if (machine) setHostname(s, manifest.hostname, (e) => bus.emit(e));
  void finishBoot(init, machine);
}

async function finishBoot(init: Init, machine: boolean): Promise<void> {
  const { bus, manifest } = init;
  if (!manifest) return;
  const runc = await runcVersion();
  const containers = manifest.onboot.length + manifest.services.length + manifest.onshutdown.length;
  if (runc) bus.emit({ kind: 'runtime.found', message: `runc ${runc.version}`, runtime: 'runc', version: runc.version });
  else if (containers > 0) return enterEmergency(bus, 'runc was not found in PATH, and the manifest has containers', ['fix: install runc in the image (the runc package on Debian)']);
  else bus.emit({ kind: 'runtime.missing', level: 'warn', message: 'runc was not found in PATH (no containers in this manifest need it)' });

  if (runc && init.reaper) {
    const deps = phaseDeps(init, init.reaper);
    const supervisor = new Supervisor(manifest.services, deps);
    init.supervisor = supervisor;
    init.stopHooks.push({ name: 'services', run: () => supervisor.stopAll() });
    init.stopHooks.push({ name: 'onshutdown', run: async () => void (await runPhase('onshutdown', manifest.onshutdown, deps)) });
    const onboot = await runPhase('onboot', manifest.onboot, deps);
    const bad = onboot.results.filter(failed).length;
    init.boot.onboot = onboot.results.map((r) => ({ name: r.name, code: r.code, signal: r.signal, ms: r.durationMs, failed: failed(r) }));
    if (manifest.onboot.length > 0) {
      bus.emit({ kind: 'onboot.done', level: bad ? 'warn' : 'info', message: `onboot: ${onboot.results.length} ran, ${bad} failed`, ran: onboot.results.length, failed: bad });
    }
    if (onboot.criticalFailure) {
      const f = onboot.criticalFailure;
      return enterEmergency(bus, `the critical onboot entry ${f.name} failed`, [
        f.error ?? (f.timedOut ? 'it timed out' : f.oomKilled ? 'it was killed by the OOM killer' : f.signal ? `it was killed by ${f.signal}` : `it exited ${f.code}`),
        ...f.logTail.slice(-10).map((l) => `  | ${l}`),
        `its log: ${f.logFile}`,
      ]);
    }
    init.boot.onbootDoneAt = Date.now();
    if (!init.shuttingDown && manifest.services.length > 0) {
      supervisor.startAll();
      const n = manifest.services.length;
      void supervisor.allReady().then(({ ready, neverReady }) => {
        init.boot.servicesReadyAt = Date.now();
        const up = machine ? uptimeMs() : undefined;
        const when = `${supervisor.readyAt! - init.boot.startedAt} ms after keel started${up !== undefined ? ` (${up} ms after kernel start)` : ''}`;
        if (neverReady.length === 0) bus.emit({ kind: 'services.ready', message: `all ${n} service(s) ready ${when}`, count: n });
        else bus.emit({ kind: 'services.ready', level: 'warn', message: `services settled ${when}: ${ready} of ${n} ready; never ready: ${neverReady.join(', ')}`, count: n, neverReady });
      });
    }
  }

  init.boot.completeAt = Date.now();
  const up = machine ? uptimeMs() : undefined;
  const rssMb = (process.memoryUsage().rss / 2 ** 20).toFixed(1);
  bus.emit({
    kind: 'boot.complete',
    message: `boot complete${up !== undefined ? ` ${up} ms after kernel start` : ''} (keel-init rss ${rssMb} MiB)`,
    uptimeMs: up,
    rss: process.memoryUsage().rss,
  });
  injectFaults();
}

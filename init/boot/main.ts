// keel-init: the entry point of PID 1. main() does what must come before
// anything else (the fault guard, the console, the arguments, the signal
// handlers, the first line, the addon, the move out of the initramfs), the
// machine's set-up, which starts the kernel modules loading, and the claim on
// the state directory (claim-stage.ts); then the rest of keel-init (boot.ts:
// the control API, the runtime, the supervisor, and node's http, crypto and
// child_process under them) loads while they load, and boot runs on as
// declared stages (stages.ts).
import { existsSync } from 'node:fs';
import { EventBus } from '../../events/bus.js';
import { VERSION } from '../../model/version.js';
import { parseArgs, USAGE } from '../core/args.js';
import { installGuard } from '../core/guard.js';
import { optOutOfHugePages } from '../core/huge-pages.js';
import { CONTAINER_SIGNAL_TABLE, HeldSignals, SIGNAL_TABLE, type PowerAction } from '../core/signals.js';
import { REBOOT_CMD, sys, type Sys } from '../core/sys.js';
import { COPY_ASKED, leaveInitramfs, type RootLeft, type RootWay } from '../machine/switch-root.js';
import { claimStage } from './claim-stage.js';
import { sayCodeCache } from './code-cache.js';
import { Console } from './console.js';
import { containerDefaults, containerStateDir, isContainerInit } from './container-mode.js';
import type { EarlyBase } from './context.js';
import { machineStage, watchPowerButtonOnceLoaded } from './machine-stage.js';
import { BootRecord } from './record.js';
import { stageLog } from './stage-log.js';
import { Stages } from './stages.js';

/**
 * What a service manager above keel (systemd's Type=notify, podman's --sdnotify)
 * addresses to keel-init itself, which does not answer it. Left in the
 * environment, runc would take NOTIFY_SOCKET as its own and wait on every
 * `runc run` for a READY=1 that never comes, and every helper would inherit it.
 */
const ADDRESSED_TO_KEEL = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

export function main(argv: readonly string[]): void {
  for (const name of ADDRESSED_TO_KEEL) delete process.env[name];
  const bus = new EventBus();
  installGuard(bus);
  const args = parseArgs(argv);
  const isPid1 = process.pid === 1;
  const container = args.mode === 'container' || (args.mode === 'auto' && isContainerInit());
  const machine = args.mode === 'machine' || (args.mode === 'auto' && isPid1 && !existsSync('/proc/self'));
  const console = new Console(bus, container, machine);
  if (!isPid1 && (args.help || args.version || args.errors.length > 0)) {
    if (args.version) console.write(`keel-init ${VERSION}\n`);
    else if (args.help) console.write(USAGE);
    else console.write(`keel-init: ${args.errors.join('; ')}\n${USAGE}`);
    process.exitCode = args.errors.length > 0 ? 2 : 0;
    return;
  }
  if (container) containerDefaults(args);
  const stateSaid = container ? containerStateDir(args) : undefined;
  const signals = new HeldSignals(container ? CONTAINER_SIGNAL_TABLE : SIGNAL_TABLE);
  const mode = machine ? 'machine' : container ? 'container' : 'namespace';
  // The first line, as early as the floor's /init says its own. The keel-init that the root's copy
  // starts again (switch-root.ts) says it again: the events the other consoles are given when they
  // open (the console stage) are its own.
  const startedAt = Date.now();
  const startedMono = performance.now();
  sayStart(bus, mode);
  if (stateSaid) bus.emit({ kind: 'keel.state', ...stateSaid });
  let s: Sys;
  try {
    s = sys();
  } catch (err) {
    // Without the addon there is no mount, reap or reboot: say why and stay up.
    bus.emit({ kind: 'boot.emergency', level: 'error', message: `EMERGENCY: ${(err as Error).message}` });
    // Only a machine's PID 1 must not exit (the kernel would panic); a container's init ends, as when its boot cannot go on.
    if (!machine) process.exit(1);
    setInterval(() => {}, 1 << 30);
    return;
  }
  const noHugePages = optOutOfHugePages(s);
  if (noHugePages) bus.emit({ kind: 'keel.memory', level: 'debug', message: `keel-init keeps transparent huge pages: ${noHugePages}` });
  const root = machine ? leaveRoot(bus, s) : undefined;
  const record = new BootRecord(machine, startedAt, startedMono);
  if (root) {
    record.root = root;
    const failed = root.way === 'copied' && root.why !== COPY_ASKED;
    if (root.way !== 'none') bus.emit({ kind: 'machine.root', level: failed ? 'warn' : 'info', message: ROOT_SAID[root.way](root.why, root.ms), way: root.way, ms: root.ms, ...(root.why ? { why: root.why } : {}) });
  }
  for (const e of args.errors) bus.emit({ kind: 'keel.args', level: 'warn', message: `ignoring bad argument: ${e}` });
  void boot({ bus, sys: s, args, machine, container, isPid1, console, record, signals });
}

function sayStart(bus: EventBus, mode: string): void {
  bus.emit({ kind: 'keel.start', message: `keel ${VERSION} starting as pid ${process.pid} (${mode} mode)`, version: VERSION, mode });
  sayCodeCache(bus);
}

const ROOT_SAID: Record<RootWay, (why: string | undefined, ms: number) => string> = {
  moved: (_why, ms) => `root moved out of the initramfs in place in ${ms} ms (nothing copied)`,
  copied: (why, ms) => `root copied out of the initramfs into a tmpfs in ${ms} ms (${why})`,
  none: () => '',
};

/** Leaves the initramfs: returns once / is no longer it (the copy comes back here in a new keel-init), or says why it is still. */
function leaveRoot(bus: EventBus, s: Sys): RootLeft | undefined {
  try {
    return leaveInitramfs(s);
  } catch (err) {
    bus.emit({ kind: 'machine.error', level: 'error', message: `could not move the root out of the initramfs: ${(err as Error).message}; containers will fail to start` });
    return undefined;
  }
}

/**
 * The machine stage, then the rest of keel-init loaded (the `load` stage)
 * and its stages run (boot.ts). A keel-init whose rest cannot load is in the
 * emergency state (stayUp); a container's ends (exit 1), as when its boot
 * cannot go on.
 */
function boot(early: EarlyBase): Promise<unknown> {
  let modules: Promise<void> | undefined;
  const loaded = Stages.from(early, stageLog(early.bus, early.record, early.container))
    .then('machine', (ctx) => {
      const set = machineStage(ctx);
      modules = set.modules;
      return set;
    })
    .then('claim', claimStage)
    .then('load', async (ctx) => (await import('./boot.js')).prepareBoot(ctx));
  return loaded.done().then((ctx) => {
    if (ctx) return ctx.bootRest(ctx);
    if (early.container) process.exit(1);
    stayUp(early, modules);
    return undefined;
  });
}

/**
 * PID 1 without the rest of itself: it must not exit (a machine's kernel would
 * panic), and with nothing started there is nothing to stop, so its signals
 * and the power button (once its modules are in) power off, reboot or halt at
 * once (namespace mode: exit).
 */
function stayUp({ bus, sys: s, machine, signals }: EarlyBase, modules: Promise<void> | undefined): void {
  setInterval(() => {}, 1 << 30);
  const down = (action: PowerAction, why: string) => {
    bus.emit({ kind: 'shutdown.now', message: `${why}: ${action} now (nothing was started)`, action });
    if (!machine) process.exit(0);
    try {
      s.sync();
      s.reboot(REBOOT_CMD[action]);
    } catch {
      /* reboot(2) refused: the machine stays idle, as it is */
    }
  };
  signals.handleWith((signal, action) => {
    if (action !== 'log' && action !== 'forward') down(action, signal);
  });
  if (machine && modules) watchPowerButtonOnceLoaded(modules, bus, () => down('poweroff', 'power button'));
}

/** Loads the rest of keel-init, for keel build's code cache maker: its functions go in the cache too (pkg/image/init-loader.ts). */
export async function loadRest(): Promise<void> {
  await import('./boot.js');
}

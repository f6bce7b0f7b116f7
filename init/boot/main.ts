// keel-init: the entry point of PID 1. main() does what must come before
// anything else (the fault guard, the console, the arguments, the addon, the
// move out of the initramfs), then boot runs as declared stages (stages.ts).
import { existsSync } from 'node:fs';
import { EventBus } from '../../events/bus.js';
import { statePaths } from '../../model/layout.js';
import { VERSION } from '../../model/version.js';
import type { Supervisor } from '../../services/supervisor.js';
import { parseArgs, USAGE } from '../core/args.js';
import { enterEmergency } from '../core/emergency.js';
import { installGuard } from '../core/guard.js';
import { limitHeapGrowth } from '../core/heap-budget.js';
import { trackChildProcesses } from '../core/owned-children.js';
import { sys, type Sys } from '../core/sys.js';
import { COPY_ASKED, leaveInitramfs, type RootLeft, type RootWay } from '../machine/switch-root.js';
import { sayCodeCache } from './code-cache.js';
import { Console } from './console.js';
import type { BootBase } from './context.js';
import { controlStage, promptStage } from './control.js';
import { instanceDataStage } from './instance-data.js';
import { Late } from './late.js';
import { PowerControl } from './power.js';
import { BootRecord } from './record.js';
import { consoleStage, logStage, machineStage, reaperStage, signalStage } from './setup.js';
import { Stages } from './stages.js';
import { completeStage, manifestStage, onbootStage, planStage, runtimeStage, servicesStage } from './workload.js';
import { containerDefaults, isContainerInit } from './container.js';

export function main(argv: readonly string[]): void {
  const bus = new EventBus();
  installGuard(bus);
  trackChildProcesses();
  const args = parseArgs(argv);
  const isPid1 = process.pid === 1;
  const container = args.mode === 'container' || (args.mode === 'auto' && isContainerInit(isPid1));
  const console = new Console(bus, container);
  if (!isPid1 && (args.help || args.version || args.errors.length > 0)) {
    if (args.version) console.write(`keel-init ${VERSION}\n`);
    else if (args.help) console.write(USAGE);
    else console.write(`keel-init: ${args.errors.join('; ')}\n${USAGE}`);
    process.exitCode = args.errors.length > 0 ? 2 : 0;
    return;
  }
  // Not earlier: keel build makes the code cache running the lines above (--version) under V8's default flags.
  limitHeapGrowth();
  const machine = args.mode === 'machine' || (args.mode === 'auto' && isPid1 && !existsSync('/proc/self'));
  if (container) containerDefaults(args);
  let s: Sys;
  try {
    s = sys();
  } catch (err) {
    // Without the addon there is no mount, reap or reboot: say why and stay up.
    bus.emit({ kind: 'boot.emergency', level: 'error', message: `EMERGENCY: ${(err as Error).message}` });
    setInterval(() => {}, 1 << 30);
    return;
  }
  const root = machine ? leaveRoot(bus, s) : undefined;
  const base: BootBase = {
    bus,
    sys: s,
    args,
    paths: statePaths(args.stateDir),
    machine,
    container,
    isPid1,
    console,
    record: new BootRecord(machine),
    power: new PowerControl(bus, s, machine, isPid1, container),
    supervisor: new Late<Supervisor>(),
    main: new Late<string>(),
  };
  const mode = machine ? 'machine' : container ? 'container' : 'namespace';
  bus.emit({ kind: 'keel.start', message: `keel ${VERSION} starting as pid ${process.pid} (${mode} mode)`, version: VERSION, mode });
  sayCodeCache(bus);
  if (root) {
    base.record.root = root;
    const failed = root.way === 'copied' && root.why !== COPY_ASKED;
    if (root.way !== 'none') bus.emit({ kind: 'machine.root', level: failed ? 'warn' : 'info', message: ROOT_SAID[root.way](root.why, root.ms), way: root.way, ms: root.ms, ...(root.why ? { why: root.why } : {}) });
  }
  for (const e of args.errors) bus.emit({ kind: 'keel.args', level: 'warn', message: `ignoring bad argument: ${e}` });
  // A container whose boot cannot go on ends (exit 1) rather than idle in the emergency state: its engine restarts it, or its user sees why.
  void boot(base).then((ctx) => {
    if (!ctx && container) base.power.request('poweroff', 'boot could not go on', 1);
  });
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

/** The stages, in order. The control API and the prompt come before the manifest, so they work in the emergency state too. */
function boot(base: BootBase): Promise<unknown> {
  const { bus, record } = base;
  return Stages.from(base, {
    ended(name, ms) {
      record.stage(name, ms);
      bus.emit({ kind: 'boot.stage', level: 'debug', message: `boot stage ${name}: ${ms} ms`, stage: name, ms });
    },
    failed: (name, err) => enterEmergency(bus, `boot stage ${name} failed: ${err.message}`, err.stack ? [err.stack] : []),
  })
    .then('machine', machineStage)
    .then('console', consoleStage)
    .then('log', logStage)
    .then('reaper', reaperStage)
    .then('signals', signalStage)
    .then('control', controlStage)
    .then('manifest', manifestStage)
    .then('prompt', promptStage)
    .then('plan', planStage)
    .then('runtime', runtimeStage)
    .then('instance-data', instanceDataStage)
    .then('onboot', onbootStage)
    .then('services', servicesStage)
    .then('complete', completeStage)
    .done();
}

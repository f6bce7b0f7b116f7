// The rest of keel-init, loaded by main.ts once the machine's set-up has
// started the kernel modules: the stages from the other consoles to boot
// complete, and everything under them. Nothing here is imported statically
// by main.ts (esbuild keeps a module reached only through import() unevaluated
// until it is called), so in the image's bundle (/init) the first line and the
// kernel modules do not wait for node's http, crypto, child_process, net and
// tty, nor for keel's API, runtime and supervisor. (The ES module twin that
// namespace and container modes run hoists node's own imports to its top:
// there only keel's own modules wait.)
import { statePaths } from '../../model/layout.js';
import type { Supervisor } from '../../services/supervisor.js';
import { commandOf } from '../core/args.js';
import { faultAsked } from '../core/faults.js';
import { limitHeapGrowth } from '../core/heap-budget.js';
import { trackChildProcesses } from '../core/owned-children.js';
import type { BootBase, EarlyBase } from './context.js';
import type { MachineModules } from './machine-stage.js';
import { controlStage, promptStage } from './control.js';
import { instanceDataStage } from './instance-data.js';
import { Late } from './late.js';
import { PowerControl } from './power.js';
import { consoleStage, logStage, reaperStage, signalStage } from './setup.js';
import { stageLog } from './stage-log.js';
import { Stages } from './stages.js';
import { completeStage, manifestStage, onbootStage, planStage, runtimeStage, servicesStage } from './workload.js';

/** The end of the load stage, once this module is in: what the stages after it need that main() could not make. */
export function prepareBoot({ bus, sys, machine, container, isPid1, args, console }: EarlyBase): Omit<BootBase, keyof EarlyBase> & { bootRest: typeof bootRest } {
  if (faultAsked('load')) throw new Error('injected: the rest of keel-init cannot load');
  // Every module is loaded now, so V8's flags can be set without V8 refusing node's code caches (heap-budget.ts).
  limitHeapGrowth();
  trackChildProcesses();
  console.useStream();
  const power = new PowerControl(bus, sys, machine, isPid1, container);
  const main = new Late<string>();
  // The CMD is known from the command line at once; the manifest's own main once it is read.
  if (container) power.expectMain(() => commandOf(args).length > 0 || main.get() !== undefined);
  return { paths: statePaths(args.stateDir), power, supervisor: new Late<Supervisor>(), main, bootRest };
}

/** The stages after `load`, in order. The control API and the prompt come before the manifest, so they work in the emergency state too. */
function bootRest(base: BootBase & MachineModules): Promise<unknown> {
  const booted = Stages.from(base, stageLog(base.bus, base.record, base.container))
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
  // A container whose boot cannot go on ends (exit 1) rather than idle in the emergency state: its engine restarts it, or its user sees why.
  return booted.then((ctx) => {
    if (!ctx && base.container) base.power.request('poweroff', 'boot could not go on', 1);
    // A boot that stopped (the emergency state) still gets every driver: a disk may be what its user needs next.
    if (!ctx) base.loadWaitingModules();
    return ctx;
  });
}

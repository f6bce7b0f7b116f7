// The first stage, run before the rest of keel-init is loaded (main.ts): the
// machine's mounts and the kernel modules, which load in the background on
// libuv's threads while the rest of keel-init loads and the stages go on; and
// the power button's watch, once those modules are in.
import type { EventBus } from '../../events/bus.js';
import { DEFAULT_PATH } from '../../model/layout.js';
import { watchPowerButton } from '../machine/power-button.js';
import { setUpMachine } from '../machine/setup.js';
import type { EarlyBase } from './context.js';

/**
 * What needs the kernel modules (the power button, the VM channel, containers) waits on `modules`; the rest of boot
 * does not. The drivers for devices not present, and the feature modules the kernel has not asked for, load at
 * `loadWaitingModules`, once boot is complete.
 */
export function machineStage({ machine, sys, bus, record }: EarlyBase): MachineModules {
  if (!machine) return { modules: Promise.resolve(), loadWaitingModules: () => {} };
  process.env.PATH ??= DEFAULT_PATH; // the kernel starts init with no PATH; runc, ip and the shell live in the usual places
  const set = setUpMachine(sys, (e) => bus.emit(e));
  record.mark('machineReadyMs');
  return set;
}

export interface MachineModules {
  modules: Promise<void>;
  loadWaitingModules: () => void;
}

/** Watches the power button once its device exists: evdev and button are among the modules. */
export function watchPowerButtonOnceLoaded(modules: Promise<void>, bus: EventBus, onPress: () => void): void {
  void modules.then(() => {
    const n = watchPowerButton(onPress, (msg) => bus.emit({ kind: 'machine.input', level: 'warn', message: `power button: ${msg}` }));
    if (n > 0) bus.emit({ kind: 'machine.powerbutton', level: 'debug', message: `watching ${n} power button device(s)` });
  });
}

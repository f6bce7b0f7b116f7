// The first stages once keel-init is loaded (machine-stage.ts comes before):
// the other consoles, the console's colour and kernel messages, the JSON log,
// the reaper, and the signal table.
import { findExtraConsoles } from '../console/consoles.js';
import { ownConsole } from '../console/own.js';
import { attachLog, openLog } from '../core/log.js';
import { raiseOpenFileLimit } from '../core/fd-limit.js';
import { Reaper } from '../core/reaper.js';
import { forwardSignal } from './container.js';
import type { BootBase } from './context.js';
import { watchPowerButtonOnceLoaded } from './machine-stage.js';

export function consoleStage({ bus, console, machine }: BootBase): object {
  if (machine) console.addExtras(findExtraConsoles());
  ownConsole(bus, console.sink, machine); // colour, and kernel messages off keel's console
  return {};
}

export function logStage({ bus, args }: BootBase): object {
  const log = openLog(args.stateDir);
  attachLog(bus, log.logger);
  if (log.error) bus.emit({ kind: 'keel.log', level: 'warn', message: `no log file in ${args.stateDir}: ${log.error}` });
  return {};
}

export function reaperStage({ bus, sys }: BootBase): { reaper: Reaper } {
  raiseOpenFileLimit(sys, (message) => bus.emit({ kind: 'keel.limits', level: 'warn', message }));
  const reaper = new Reaper(sys);
  try {
    reaper.start();
  } catch (err) {
    bus.emit({ kind: 'keel.reaper', level: 'error', message: `could not become a child subreaper: ${(err as Error).message}` });
  }
  return { reaper };
}

export function signalStage({ bus, power, machine, container, signals, supervisor, main, modules }: BootBase & { modules: Promise<void> }): object {
  // Those that came earlier (held since main) are acted on now, in order.
  signals.handleWith((signal, action) => {
    if (action === 'log') bus.emit({ kind: 'signal.hup', message: `${signal} received (reload is not supported yet)` });
    else if (action === 'forward') void forwardSignal(signal, supervisor.get(), main.get(), bus);
    else {
      // docker stop's signal (SIGTERM, or the image's STOPSIGNAL SIGINT) is what a container's CMD gets as the container stops.
      if (container && (signal === 'SIGTERM' || signal === 'SIGINT')) supervisor.get()?.get(main.get() ?? '')?.stopWith(signal);
      power.requestBySignal(action, signal);
    }
  });
  if (machine) watchPowerButtonOnceLoaded(modules, bus, () => power.request('poweroff', 'power button'));
  return {};
}

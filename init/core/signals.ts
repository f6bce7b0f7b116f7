// The signal tables of keel as PID 1: a machine's (busybox init's meanings),
// and a container image's (what `docker stop`, `docker kill -s` and a
// terminal send). The kernel drops any signal to PID 1 that has no handler
// (docs/architecture.md, "Signals to PID 1"), so each one here gets a
// handler, including the ones that only log.

import { EARLY_SIGNALS, EARLY_SIGNALS_KEY, type EarlySignals } from '../../model/early-signals.js';

export type PowerAction = 'poweroff' | 'reboot' | 'halt';
export type SignalAction = PowerAction | 'log' | 'forward';

export const SIGNAL_TABLE: Readonly<Record<string, SignalAction>> = {
  SIGTERM: 'poweroff',
  SIGPWR: 'poweroff', // sent by the kernel/UPS tools on power failure
  SIGUSR2: 'poweroff',
  SIGINT: 'reboot', // ctrl-alt-del once reboot(CAD_OFF) is set
  SIGUSR1: 'halt',
  SIGHUP: 'log', // reserved for reloading the manifest
};

/**
 * As a container's init: the stop signals end the container (everything
 * stopped in reverse dependency order, then exit); the others are passed to
 * the main service's process group, or without one to every running process
 * entry's, as tini and dumb-init pass them to their child.
 */
export const CONTAINER_SIGNAL_TABLE: Readonly<Record<string, SignalAction>> = {
  SIGTERM: 'poweroff', // docker stop
  SIGINT: 'poweroff', // ctrl-c on docker run -t without -i, docker kill -s INT
  SIGPWR: 'poweroff',
  SIGHUP: 'forward',
  SIGUSR1: 'forward',
  SIGUSR2: 'forward',
  SIGWINCH: 'forward', // a terminal's new size
  // A graceful stop or a dump for some programs (nginx's STOPSIGNAL, php-fpm, gunicorn; a JVM's thread dump),
  // and gunicorn's worker count: the kernel drops a signal PID 1 has no handler for, so each is listed.
  SIGQUIT: 'forward',
  SIGTTIN: 'forward',
  SIGTTOU: 'forward',
};

export function actionFor(signal: string, table: Readonly<Record<string, SignalAction>> = SIGNAL_TABLE): SignalAction | undefined {
  return table[signal];
}

/**
 * Handlers for every signal of `table`, installed as soon as keel-init runs:
 * a signal that comes before boot can act on it (ctrl-alt-del while the rest
 * of keel-init loads) is held, and handed over when `handleWith` is called.
 * Each signal is held once, however often it comes: a keel-init that never
 * gets that far (no addon) must not grow under a flood of them.
 */
export class HeldSignals {
  private handle: ((signal: NodeJS.Signals, action: SignalAction) => void) | undefined;
  private readonly held: Array<[NodeJS.Signals, SignalAction]> = [];

  constructor(table: Readonly<Record<string, SignalAction>>) {
    const hold = (signal: NodeJS.Signals, action: SignalAction) => {
      if (this.handle) this.handle(signal, action);
      else if (!this.held.some(([s]) => s === signal)) this.held.push([signal, action]);
    };
    installSignalHandlers(hold, table);
    // What a container image's launcher held while this file loaded (model/early-signals.ts): taken over in the
    // same turn as the handlers above went in, so no signal is seen by both or by neither.
    const early = (globalThis as Record<symbol, EarlySignals | undefined>)[Symbol.for(EARLY_SIGNALS_KEY)];
    if (early) {
      for (const signal of EARLY_SIGNALS) process.off(signal, early.hold);
      for (const signal of early.held) {
        const action = actionFor(signal, table);
        if (action) hold(signal as NodeJS.Signals, action);
      }
      early.held.clear();
    }
  }

  handleWith(handle: (signal: NodeJS.Signals, action: SignalAction) => void): void {
    this.handle = handle;
    for (const [signal, action] of this.held.splice(0)) handle(signal, action);
  }
}

export function installSignalHandlers(handle: (signal: NodeJS.Signals, action: SignalAction) => void, table: Readonly<Record<string, SignalAction>> = SIGNAL_TABLE): void {
  for (const [signal, action] of Object.entries(table)) {
    process.on(signal as NodeJS.Signals, () => handle(signal as NodeJS.Signals, action));
  }
}

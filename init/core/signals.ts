// The signal table of keel as PID 1 (busybox init's meanings). The kernel
// drops any signal to PID 1 that has no handler (docs/architecture.md, "Signals to PID 1"), so each
// one here gets a handler, including the ones that only log.

export type PowerAction = 'poweroff' | 'reboot' | 'halt';
export type SignalAction = PowerAction | 'log';

export const SIGNAL_TABLE: Readonly<Record<string, SignalAction>> = {
  SIGTERM: 'poweroff',
  SIGPWR: 'poweroff', // sent by the kernel/UPS tools on power failure
  SIGUSR2: 'poweroff',
  SIGINT: 'reboot', // ctrl-alt-del once reboot(CAD_OFF) is set
  SIGUSR1: 'halt',
  SIGHUP: 'log', // reserved for reloading the manifest
};

export function actionFor(signal: string): SignalAction | undefined {
  return SIGNAL_TABLE[signal];
}

export function installSignalHandlers(handle: (signal: NodeJS.Signals, action: SignalAction) => void): void {
  for (const [signal, action] of Object.entries(SIGNAL_TABLE)) {
    process.on(signal as NodeJS.Signals, () => handle(signal as NodeJS.Signals, action));
  }
}

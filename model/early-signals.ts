// The signals a container image's keel-init launcher holds while node loads
// keel-init.js, and how it hands them over. The kernel drops a signal sent to
// PID 1 that has no handler, and loading keel-init.js takes tens of
// milliseconds before keel's own handlers are in (a `docker stop` right after
// `docker run -d` came in that time every time, and was lost): the launcher's
// first lines give each of these signals a handler that only records it, and
// keel-init (init/core/signals.ts HeldSignals) takes the record and acts on it.

/** The container signal table's signals (init/core/signals.ts CONTAINER_SIGNAL_TABLE; a test keeps the two the same). */
export const EARLY_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGPWR', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU'] as const;

/** The global (a Symbol.for key) by which the launcher hands keel-init what it holds. */
export const EARLY_SIGNALS_KEY = 'keel.early-signals';

/** What the launcher leaves under that key: each signal that came, once, in the order they came, and its listener. */
export interface EarlySignals {
  held: Set<string>;
  hold: (signal: string) => void;
}

/** The launcher's first lines, as JavaScript: run before anything is loaded. */
export function earlySignalPrelude(): string {
  return [
    'const held = new Set();',
    'const hold = (signal) => held.add(signal);',
    `for (const signal of ${JSON.stringify(EARLY_SIGNALS)}) process.on(signal, hold);`,
    `globalThis[Symbol.for(${JSON.stringify(EARLY_SIGNALS_KEY)})] = { held, hold };`,
  ].join('\n');
}

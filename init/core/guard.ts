// PID 1 must not die (docs/architecture.md, "PID 1 must not die"): an exception that escapes keel is
// a kernel panic. Uncaught exceptions and unhandled rejections are reported
// with their stack and contained; the event loop goes on.
import type { EventBus } from '../../events/bus.js';

let installed = false;

export function installGuard(bus: EventBus): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err, origin) => {
    bus.emit({
      kind: 'keel.fault',
      level: 'error',
      message: `contained an uncaught exception (${origin}): ${err?.message ?? String(err)}`,
      stack: err?.stack,
    });
  });
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    bus.emit({ kind: 'keel.fault', level: 'error', message: `contained an unhandled rejection: ${err.message}`, stack: err.stack });
  });
}

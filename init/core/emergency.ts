// The emergency state: boot cannot go on (bad manifest, missing runc, a
// critical onboot entry failed). keel says what failed and how to fix it, and
// stays up: it still reaps, and power signals still shut the machine down.
// A container's init ends instead (exit 1), and says that.
import type { EventBus } from '../../events/bus.js';

export function enterEmergency(bus: EventBus, reason: string, details: string[] = [], container = false): void {
  bus.emit({
    kind: 'boot.emergency',
    level: 'error',
    message: [
      `EMERGENCY: boot stopped: ${reason}`,
      ...details,
      container
        ? 'keel ends (exit 1): a container whose boot cannot go on stops, so its engine restarts it or its user sees why.'
        : 'keel keeps running: orphans are reaped, and SIGTERM, ctrl-alt-del or the power button still shut down cleanly.',
    ].join('\n'),
    reason,
    details,
  });
}

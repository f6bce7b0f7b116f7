// How boot hears of its stages: each one's name and duration go to the boot
// report and the log, and a stage that failed puts keel in the emergency state.
import type { EventBus } from '../../events/bus.js';
import { enterEmergency } from '../core/emergency.js';
import type { BootRecord } from './record.js';
import type { StageObserver } from './stages.js';

export function stageLog(bus: EventBus, record: BootRecord, container = false): StageObserver {
  return {
    ended(name, ms) {
      record.stage(name, ms);
      bus.emit({ kind: 'boot.stage', level: 'debug', message: `boot stage ${name}: ${ms} ms`, stage: name, ms });
    },
    failed: (name, err) => enterEmergency(bus, `boot stage ${name} failed: ${err.message}`, err.stack ? [err.stack] : [], container),
  };
}

// What every boot stage starts from: main() makes the early part before the
// first stage, boot.ts the rest once it is loaded.
import type { EventBus } from '../../events/bus.js';
import type { StatePaths } from '../../model/layout.js';
import type { Supervisor } from '../../services/supervisor.js';
import type { InitArgs } from '../core/args.js';
import type { HeldSignals } from '../core/signals.js';
import type { Sys } from '../core/sys.js';
import type { Console } from './console.js';
import type { Late } from './late.js';
import type { PowerControl } from './power.js';
import type { BootRecord } from './record.js';

/** What main() has before the rest of keel-init is loaded: enough for the first line and the machine's set-up. */
export interface EarlyBase {
  bus: EventBus;
  sys: Sys;
  args: InitArgs;
  /** The first process of a booting kernel: set the machine up, power off at the end. */
  machine: boolean;
  /** A container image's init (docker run): its signal table, exit code, output and stop deadline. */
  container: boolean;
  isPid1: boolean;
  console: Console;
  record: BootRecord;
  /** Every signal keel acts on has its handler from the start; the signals stage says what they do. */
  signals: HeldSignals;
}

export interface BootBase extends EarlyBase {
  paths: StatePaths;
  power: PowerControl;
  /** The supervisor, once the runtime is found. */
  supervisor: Late<Supervisor>;
  /** The manifest's main service (a container's CMD), once the manifest is read. */
  main: Late<string>;
}

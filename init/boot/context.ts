// What every boot stage starts from: made by main() before the first stage.
import type { EventBus } from '../../events/bus.js';
import type { StatePaths } from '../../model/layout.js';
import type { Supervisor } from '../../services/supervisor.js';
import type { InitArgs } from '../core/args.js';
import type { Sys } from '../core/sys.js';
import type { Console } from './console.js';
import type { Late } from './late.js';
import type { PowerControl } from './power.js';
import type { BootRecord } from './record.js';

export interface BootBase {
  bus: EventBus;
  sys: Sys;
  args: InitArgs;
  paths: StatePaths;
  /** The first process of a booting kernel: set the machine up, power off at the end. */
  machine: boolean;
  /** A container image's init (docker run): its signal table, exit code, output and stop deadline. */
  container: boolean;
  isPid1: boolean;
  console: Console;
  record: BootRecord;
  power: PowerControl;
  /** The supervisor, once the runtime is found. */
  supervisor: Late<Supervisor>;
  /** The manifest's main service (a container's CMD), once the manifest is read. */
  main: Late<string>;
}

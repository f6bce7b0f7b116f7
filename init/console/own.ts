// What keel does once the console is its own: decide colour, and take kernel
// messages off the console so they cannot split keel's lines (machine mode
// only; in a namespace the host's kernel log is not keel's).
import { readFileSync } from 'node:fs';
import type { EventBus } from '../../events/bus.js';
import { consoleColour } from './consoles.js';
import { relayKernelLog } from './kmsg.js';
import type { ConsoleSink } from './sink.js';

export function ownConsole(bus: EventBus, sink: ConsoleSink, machine: boolean): void {
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/cmdline', 'utf8');
  } catch {
    /* no /proc: the environment decides */
  }
  // In namespace mode the host's kernel command line is not keel's to read options from.
  sink.setColour(consoleColour(machine ? cmdline : '', process.env, process.stdout.isTTY === true));
  const drainKernelLog = machine ? relayKernelLog(bus) : undefined;
  // A shell that logged a kernel error just before it exited must see it in the summary, not 500 ms later.
  if (drainKernelLog) sink.addPolled(drainKernelLog);
}

// The console as boot sets it up: keel's writer to /dev/console, joined by
// the other console= devices once the machine is up, and the event sink that
// turns events into console lines.
import { readFileSync } from 'node:fs';
import type { EventBus } from '../../events/bus.js';
import { activeConsole, openExtraConsoles, type ExtraConsoles } from '../console/consoles.js';
import { attachConsole, consoleLine, consoleWriter, type ConsoleSink } from '../console/sink.js';

export class Console {
  private readonly primary = consoleWriter();
  private extra: ExtraConsoles | undefined;
  readonly sink: ConsoleSink;

  constructor(bus: EventBus) {
    this.sink = attachConsole(bus, (text) => this.write(text));
  }

  /** keel's own text, to every console. */
  write(text: string): void {
    this.primary(text);
    this.extra?.write(text);
  }

  /** In a machine: every other console= device gets keel's lines too, starting with what was said before they opened. */
  openExtra(bus: EventBus): void {
    let active: string | undefined;
    try {
      active = activeConsole(readFileSync('/sys/class/tty/console/active', 'utf8'));
    } catch {
      /* older kernels: assume the last console= */
    }
    try {
      this.extra = openExtraConsoles(readFileSync('/proc/cmdline', 'utf8'), active);
    } catch {
      return; // no /proc/cmdline: only /dev/console then
    }
    for (const e of bus.since(0)) if (e.level !== 'debug') this.extra.write(consoleLine(e));
    if (this.extra.names.length) bus.emit({ kind: 'console.extra', message: `also writing to console(s) ${this.extra.names.join(', ')}` });
  }
}

// The console as boot sets it up: keel's writer to /dev/console, joined by
// the other console= devices once the machine is up, and the event sink that
// turns events into console lines.
import { readFileSync } from 'node:fs';
import type { EventBus } from '../../events/bus.js';
import { activeConsole, openExtraConsoles, type ExtraConsoles } from '../console/consoles.js';
import { attachConsole, consoleLine, consoleWriter, type ConsoleSink, type ConsoleWrite } from '../console/sink.js';

/** Container lines the console takes at once, and per second after that: a serial console writes about 11 KB/s, and each write blocks PID 1. */
const RELAY_BURST = 200;
const RELAY_PER_SECOND = 20;

/**
 * onboot and onshutdown output on the console, bounded: past the budget,
 * lines are counted rather than written (they are all in the entry's log
 * file), and the count is said when the entry's lines flow again or it ends.
 */
export class ContainerRelay {
  private tokens = RELAY_BURST;
  private last = Date.now();
  private readonly held = new Map<string, number>();

  constructor(private readonly write: (text: string) => void) {}

  line(name: string, text: string): void {
    const now = Date.now();
    this.tokens = Math.min(RELAY_BURST, this.tokens + ((now - this.last) / 1000) * RELAY_PER_SECOND);
    this.last = now;
    if (this.tokens < 1) {
      this.held.set(name, (this.held.get(name) ?? 0) + 1);
      return;
    }
    this.tokens--;
    this.flush(name);
    this.write(`  ${name} | ${text}\n`);
  }

  /** Says how many lines of `name` were not shown, if any, and where they all are once it has ended. */
  flush(name: string, logFile?: string): void {
    const n = this.held.get(name);
    if (!n) return;
    this.held.delete(name);
    this.write(`  ${name} | … ${n} line(s) not shown here (too many at once)${logFile ? `; all are in ${logFile}` : ''}\n`);
  }
}

export class Console {
  private readonly primary: ConsoleWrite;
  private extra: ExtraConsoles | undefined;
  readonly sink: ConsoleSink;

  /** A container's init writes its own lines to stderr, warnings and errors only: stdout is the services'. */
  constructor(bus: EventBus, container = false) {
    this.primary = consoleWriter(container ? process.stderr : process.stdout);
    this.sink = attachConsole(bus, (text) => this.write(text), container ? 'warn' : 'info');
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

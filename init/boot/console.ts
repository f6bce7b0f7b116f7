// The console as boot sets it up: keel's writer to /dev/console, joined by
// the other console= devices once the machine is up, and the event sink that
// turns events into console lines.
import { readFileSync } from 'node:fs';
import type { EventBus } from '../../events/bus.js';
import type { ReadStream } from 'node:tty';
import { activeConsole, openExtraConsoles, type ConsoleOutput, type ExtraConsole } from '../console/consoles.js';
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

/** A console other than /dev/console, with the events on it as lines of its own (held while its own prompt is open). */
export interface ExtraConsoleView {
  name: string;
  sink: ConsoleSink;
  /** keel's lines to this console alone. */
  write: (text: string) => void;
  /** Its terminal, when it is one: the prompt's input and output there. */
  terminal?: { input: ReadStream; output: ConsoleOutput };
}

export class Console {
  private readonly primaryWrite: ConsoleWrite;
  private readonly primarySink: ConsoleSink;
  private readonly extras: ExtraConsoleView[] = [];
  private colour = false;
  private readonly polled: Array<() => void> = [];
  /**
   * The events on the consoles: colour and polled sources apply to every
   * console; holding lines back (setPaused) to /dev/console's alone, since
   * each console's prompt holds its own.
   */
  readonly sink: ConsoleSink;

  /** A container's init writes its own lines to stderr, warnings and errors only: stdout is the services'. */
  constructor(
    private readonly bus: EventBus,
    container = false,
  ) {
    this.primaryWrite = consoleWriter(container ? process.stderr : process.stdout);
    this.primarySink = attachConsole(bus, this.primaryWrite, container ? 'warn' : 'info');
    const all = () => [this.primarySink, ...this.extras.map((e) => e.sink)];
    this.sink = {
      setPaused: (p) => this.primarySink.setPaused(p),
      setColour: (on) => {
        this.colour = on;
        for (const s of all()) s.setColour(on);
      },
      get colour() {
        return all()[0]!.colour;
      },
      addPolled: (drain) => {
        this.polled.push(drain);
        for (const s of all()) s.addPolled(drain);
      },
    };
  }

  /** keel's own text, to every console. */
  write(text: string): void {
    this.primaryWrite(text);
    for (const e of this.extras) e.write(text);
  }

  /** keel's own text to /dev/console alone (its prompt's lines). */
  writePrimary(text: string): void {
    this.primaryWrite(text);
  }

  /** The other consoles, once openExtra has opened them. */
  extraConsoles(): readonly ExtraConsoleView[] {
    return this.extras;
  }

  /** In a machine: every other console= device gets keel's lines too, starting with what was said before they opened. */
  openExtra(bus: EventBus): void {
    let active: string | undefined;
    try {
      active = activeConsole(readFileSync('/sys/class/tty/console/active', 'utf8'));
    } catch {
      /* older kernels: assume the last console= */
    }
    let opened: ExtraConsole[];
    try {
      opened = openExtraConsoles(readFileSync('/proc/cmdline', 'utf8'), active);
    } catch {
      return; // no /proc/cmdline: only /dev/console then
    }
    for (const c of opened) {
      for (const e of bus.since(0)) if (e.level !== 'debug') c.write(consoleLine(e, this.colour));
      const sink = attachConsole(this.bus, c.write);
      sink.setColour(this.colour);
      for (const d of this.polled) sink.addPolled(d);
      this.extras.push({ name: c.name, sink, write: c.write, ...(c.terminal ? { terminal: c.terminal } : {}) });
    }
    if (opened.length) bus.emit({ kind: 'console.extra', message: `also writing to console(s) ${opened.map((c) => c.name).join(', ')}` });
  }
}

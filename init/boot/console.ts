// The console as boot sets it up: keel's writer to /dev/console, joined by
// the other console= devices once keel-init is loaded (the console stage),
// and the event sink that turns events into console lines.
import type { EventBus } from '../../events/bus.js';
import type { ReadStream } from 'node:tty';
import { saidByExitCode } from './container-mode.js';
import type { ConsoleOutput, ExtraConsole } from '../console/consoles.js';
import { attachConsole, consoleLine, consoleWriter, dropWhenFull, type ConsoleSink, type ConsoleWrite } from '../console/sink.js';

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
  private last = performance.now();
  private readonly held = new Map<string, number>();

  constructor(private readonly write: (text: string) => void) {}

  line(name: string, text: string): void {
    const now = performance.now();
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
  private primaryWrite: ConsoleWrite;
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

  /**
   * A container's init writes its own lines to stderr, warnings and errors
   * only: stdout is the services'. A machine's writes go straight to fd 1, the
   * kernel's console, until useStream.
   */
  constructor(
    private readonly bus: EventBus,
    private readonly container = false,
    machine = false,
  ) {
    this.primaryWrite = machine ? dropWhenFull(1) : this.streamWriter();
    this.primarySink = attachConsole(bus, (text) => this.primaryWrite(text), container ? 'warn' : 'info', container ? saidByExitCode : undefined);
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

  private streamWriter(): ConsoleWrite {
    return consoleWriter(this.container ? process.stderr : process.stdout);
  }

  /**
   * From now on through node's stream for fd 1. Called once node's tty is
   * loaded anyway, and before the prompt reads the console: if libuv cannot
   * give stdin a file description of its own, it makes the one fd 1 shares
   * non-blocking, and node's stream is what copes with that (a write that
   * cannot go now waits in it, in order).
   */
  useStream(): void {
    this.primaryWrite = this.streamWriter();
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

  /** The other consoles, once addExtras has them. */
  extraConsoles(): readonly ExtraConsoleView[] {
    return this.extras;
  }

  /** In a machine: every other console= device (consoles.ts, findExtraConsoles) gets keel's lines too, starting with what was said before they opened. */
  addExtras(opened: readonly ExtraConsole[]): void {
    for (const c of opened) {
      for (const e of this.bus.since(0)) if (e.level !== 'debug') c.write(consoleLine(e, this.colour));
      const sink = attachConsole(this.bus, c.write);
      sink.setColour(this.colour);
      for (const d of this.polled) sink.addPolled(d);
      this.extras.push({ name: c.name, sink, write: c.write, ...(c.terminal ? { terminal: c.terminal } : {}) });
    }
    if (opened.length) this.bus.emit({ kind: 'console.extra', message: `also writing to console(s) ${opened.map((c) => c.name).join(', ')}` });
  }
}

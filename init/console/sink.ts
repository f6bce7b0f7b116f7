// The console's view of the event bus: one readable line per event, in its
// level's colour, written as one write of whole lines (so nothing else on the
// console can split a line of keel's), held back while a prompt or shell has
// the console. Writes never throw: a closed console must not kill PID 1.
import { writeSync } from 'node:fs';
import type { EventBus, KeelEvent } from '../../events/bus.js';
import { visible } from '../../events/visible.js';

export type ConsoleWrite = (text: string) => void;

/**
 * The most text a stream may hold that its reader has not taken. Node
 * queues a pipe's writes in memory while the pipe is full: a container's
 * init whose stdout nobody reads (a stalled `docker logs`, a log driver
 * that blocks) would otherwise grow by every line its services write.
 */
export const MAX_UNREAD_BYTES = 1 << 20;

/** Lines in `text` (each ends in a newline; a last one without counts too). */
const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

/**
 * `write`, but past MAX_UNREAD_BYTES that `stream`'s reader has not taken,
 * texts are counted (`count` says how much each is) instead of written, and
 * once the reader has caught up (drain) `said` of the count is written.
 */
export function unreadBound(
  stream: { readonly writableLength: number; once(event: 'drain', f: () => void): unknown },
  write: (text: string) => void,
  count: (text: string) => number,
  said: (dropped: number) => string,
): (text: string) => void {
  let dropped = 0;
  return (text) => {
    if (stream.writableLength <= MAX_UNREAD_BYTES) return write(text);
    if (dropped === 0) {
      stream.once('drain', () => {
        const n = dropped;
        dropped = 0;
        write(said(n));
      });
    }
    dropped += count(text);
  };
}

/**
 * Writes to a stream (keel's stdout or stderr) and never throws: a closed
 * console must not kill PID 1. Past MAX_UNREAD_BYTES unread, lines are
 * counted instead of queued, and the count is written once the reader has
 * caught up; the lines themselves are still in the logs and events.
 */
export function consoleWriter(stream: NodeJS.WriteStream = process.stdout): ConsoleWrite {
  const write = (text: string) => {
    try {
      stream.write(text);
    } catch {
      /* EPIPE/EIO on a console that went away: nothing to tell it */
    }
  };
  stream.on('error', () => {
    /* as above */
  });
  return unreadBound(stream, write, lineCount, (n) => `keel: … ${n} line(s) not written here: this output was not read fast enough (keel logs and keel events keep them)\n`);
}

/**
 * Writes to a console without ever waiting: a console that cannot take a
 * line now drops it (EAGAIN on a full tty) rather than stall PID 1, and a
 * line cut short still ends, so the next starts at the left margin. On fd 1
 * of a machine, before node's stream has it (Console), the same write(2)s
 * wait instead: the kernel opens /dev/console for init in blocking mode, so
 * each write is whole, as node's stream for a terminal would make it, without
 * loading that stream (node's net and tty) before keel-init's first line.
 */
export function dropWhenFull(fd: number): (text: string | Buffer) => void {
  return (text) => {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(fd, bytes, done);
    } catch {
      /* full, or gone: drop the rest */
    }
    if (done > 0 && done < bytes.length) {
      try {
        writeSync(fd, '\n');
      } catch {
        /* still full */
      }
    }
  };
}

const COLOUR: Partial<Record<KeelEvent['level'], string>> = { error: '\x1b[31m', warn: '\x1b[33m' };

/** One console line (no newline) in its level's colour, when colour is on; the reset comes before the newline. */
export function paint(text: string, level: KeelEvent['level'], colour: boolean): string {
  const c = colour ? COLOUR[level] : undefined;
  return c ? `${c}${text}\x1b[0m` : text;
}

/** The console text of an event: every line of its message prefixed "keel: ", coloured by level when asked. */
export function consoleLine(event: KeelEvent, colour = false): string {
  const mark = event.level === 'error' ? 'ERROR: ' : event.level === 'warn' ? 'warning: ' : '';
  return visible(event.message)
    .split('\n')
    .map((line, i) => paint(`keel: ${i === 0 ? mark : '  '}${line}`, event.level, colour) + '\n')
    .join('');
}

export interface ConsoleSink {
  /**
   * Holds event lines back (while a prompt or shell has the console) or lets
   * them flow again. Either way it returns the events held since the last
   * call, and forgets them: the caller summarizes them.
   */
  setPaused(paused: boolean): KeelEvent[];
  /** Colour for errors and warnings (see consoleColour in consoles.ts). */
  setColour(on: boolean): void;
  readonly colour: boolean;
  /** A polled source of events (the kernel log): read before held events are handed over, so a summary has all of them. */
  addPolled(drain: () => void): void;
}

const MAX_HELD = 2000;

const RANK: Record<KeelEvent['level'], number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Each event becomes one write of whole lines, so nothing else on the console can split a line of keel's. Events below `minLevel` are not written. */
export function attachConsole(bus: EventBus, write: ConsoleWrite, minLevel: KeelEvent['level'] = 'info', leaveOut?: (event: KeelEvent) => boolean): ConsoleSink {
  let paused = false;
  let colour = false;
  let held: KeelEvent[] = [];
  const polled: Array<() => void> = [];
  bus.subscribe((event) => {
    if (RANK[event.level] < RANK[minLevel] || leaveOut?.(event)) return;
    if (paused) {
      held.push(event);
      if (held.length > MAX_HELD) held.shift(); // a prompt left open for days must not grow PID 1 without bound
    } else write(consoleLine(event, colour));
  });
  return {
    setPaused(p) {
      for (const drain of polled) drain();
      paused = p;
      const out = held;
      held = [];
      return out;
    },
    setColour(on) {
      colour = on;
    },
    get colour() {
      return colour;
    },
    addPolled(drain) {
      polled.push(drain);
    },
  };
}


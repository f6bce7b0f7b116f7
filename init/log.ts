// Where events go: JSON lines to STATE_DIR/keel.log through pino, and one
// readable line per event to the console. Both writes are synchronous so
// that the last lines before a power-off are never lost in a buffer.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { EventBus, KeelEvent } from '../services/events.js';

export function openLog(stateDir: string): { logger: Logger; path: string | undefined; error?: string } {
  const path = join(stateDir, 'keel.log');
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const dest = pino.destination({ dest: path, sync: true, mode: 0o600 });
    return { logger: pino({ base: undefined, timestamp: false, level: 'debug' }, dest), path };
  } catch (err) {
    // Still a working init without its log file: say so on the console.
    return { logger: pino({ enabled: false }), path: undefined, error: (err as Error).message };
  }
}

export type ConsoleWrite = (text: string) => void;

/** Writes to fd 1 (the console in machine mode) and never throws: a closed console must not kill PID 1. */
export function consoleWriter(stream: NodeJS.WriteStream = process.stdout): ConsoleWrite {
  stream.on('error', () => {
    /* EPIPE/EIO on a console that went away: nothing to tell it */
  });
  return (text) => {
    try {
      stream.write(text);
    } catch {
      /* as above */
    }
  };
}

/** The console text of an event: every line of its message prefixed "keel: ". */
export function consoleLine(event: KeelEvent): string {
  const mark = event.level === 'error' ? 'ERROR: ' : event.level === 'warn' ? 'warning: ' : '';
  return event.message
    .split('\n')
    .map((line, i) => `keel: ${i === 0 ? mark : '  '}${line}\n`)
    .join('');
}

export interface ConsoleSink {
  /** Holds event lines back (while a prompt or shell has the console); returns how many were held. */
  setPaused(paused: boolean): number;
}

export function attachConsole(bus: EventBus, write: ConsoleWrite): ConsoleSink {
  let paused = false;
  let held = 0;
  bus.subscribe((event) => {
    if (event.level === 'debug') return;
    if (paused) held++;
    else write(consoleLine(event));
  });
  return {
    setPaused(p) {
      paused = p;
      const n = held;
      if (!p) held = 0;
      return n;
    },
  };
}

/** Sends every event to the JSON log, starting with those emitted before the log could open. */
export function attachLog(bus: EventBus, logger: Logger): void {
  const put = (event: KeelEvent) => {
    const { level, message, time, ...fields } = event;
    try {
      logger[level]({ time: new Date(time).toISOString(), ...fields }, message);
    } catch {
      /* a full disk must not stop the console line */
    }
  };
  for (const event of bus.since(0)) put(event);
  bus.subscribe(put);
}

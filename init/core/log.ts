// keel's JSON log: every event as one JSON line in STATE_DIR/keel.log,
// through pino, written synchronously so that the last lines before a
// power-off are never lost in a buffer, and rotated by size (a crash loop
// writes about 1 MiB per 1000 restarts, for as long as the machine runs).
import { mkdirSync } from 'node:fs';
import { statePaths } from '../../model/layout.js';
import pino, { type Logger } from 'pino';
import type { EventBus, KeelEvent } from '../../events/bus.js';
import { RotatingFile } from '../../services/log-ring.js';

/** keel.log is renamed keel.log.1 (and .1 to .2) at this size; two old files are kept. */
export const KEEL_LOG_MAX_BYTES = 8 * 2 ** 20;
export const KEEL_LOG_KEEP = 2;

export function openLog(stateDir: string): { logger: Logger; path: string | undefined; error?: string } {
  const path = statePaths(stateDir).log;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = new RotatingFile(path, KEEL_LOG_MAX_BYTES, KEEL_LOG_KEEP);
    return { logger: pino({ base: undefined, timestamp: false, level: 'debug' }, { write: (line: string) => file.write(line) }), path };
  } catch (err) {
    // Still a working init without its log file: say so on the console. (A stream of keel's own: the bundle
    // has none of pino's, pkg/stubs/pino-streams.cjs.)
    return { logger: pino({ enabled: false }, { write: () => undefined }), path: undefined, error: (err as Error).message };
  }
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

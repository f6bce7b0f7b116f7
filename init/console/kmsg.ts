// Kernel messages on a console keel owns. printk writes straight to the
// console's UART and can land in the middle of a line of keel's. So once keel
// has the console, the console loglevel is lowered to emergencies only (a
// panic still prints), and keel reads /dev/kmsg itself: what the kernel would
// have printed, warnings and worse at most, becomes events, printed as whole lines like every other event, held while
// the prompt is open, and kept in keel.log.
import { closeSync, constants, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import type { EventBus } from '../../events/bus.js';

const PRINTK = '/proc/sys/kernel/printk';
/** console_loglevel 1: only KERN_EMERG (level 0) reaches the console directly. */
const EMERG_ONLY = '1';
const POLL_MS = 500;
const WARN = 4;

export interface KmsgRecord {
  level: number;
  facility: number;
  text: string;
}

/** One /dev/kmsg record: "PRI,SEQ,USEC,FLAGS[,…];text\n" then " KEY=value" lines, which are dropped. */
export function parseKmsg(record: string): KmsgRecord | undefined {
  const semi = record.indexOf(';');
  if (semi < 0) return undefined;
  const pri = Number(record.slice(0, record.indexOf(',')));
  if (!Number.isInteger(pri) || pri < 0) return undefined;
  const text = record.slice(semi + 1).split('\n')[0]!;
  return { level: pri & 7, facility: pri >> 3, text };
}

/**
 * Records below this level are relayed: what the kernel would have printed at
 * its old console loglevel, but never below warnings. With "quiet" (4) that is
 * errors and worse, so an OOM kill's stack dump (logged at the default level,
 * 4) stays in dmesg.
 */
export function relayBelow(previousLoglevel: string): number {
  const n = Number(previousLoglevel);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, WARN + 1) : WARN + 1;
}

/** The most records one poll relays: a flood of kernel messages (a writer to /dev/kmsg that never stops) is read on later polls, not all in one turn of PID 1's loop. */
const MAX_RECORDS_PER_POLL = 500;
/** At start-up the records already logged are skipped; a flood then cannot keep keel-init there either. */
const MAX_RECORDS_SKIPPED = 20_000;

/** Reads the records available now, at most `max`; a record the ring overwrote before we read it (EPIPE) is skipped. */
function drain(fd: number, buf: Buffer, each: (record: string) => void, max: number): void {
  for (let read = 0; read < max; read++) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue;
      return; // EAGAIN: nothing more for now
    }
    if (n <= 0) return;
    each(buf.toString('utf8', 0, n));
  }
}

/**
 * Takes kernel messages off the console and relays warn+ ones through the bus.
 * What the kernel logged before is skipped: it already printed it.
 */
/** Returns a function that relays what is waiting now (besides the poll), or undefined if keel could not take the kernel's messages over. */
export function relayKernelLog(bus: EventBus): (() => void) | undefined {
  let fd: number;
  let previous: string;
  try {
    previous = readFileSync(PRINTK, 'utf8').trim().split(/\s+/)[0]!;
    fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    bus.emit({ kind: 'console.kmsg', level: 'warn', message: `kernel messages stay on the console as they are (${(err as Error).message})` });
    return undefined;
  }
  const buf = Buffer.alloc(8192);
  // Drain first, then lower the level: a line logged in between is relayed twice at worst, never lost.
  drain(fd, buf, () => {}, MAX_RECORDS_SKIPPED);
  try {
    writeFileSync(PRINTK, EMERG_ONLY);
  } catch (err) {
    closeSync(fd);
    bus.emit({ kind: 'console.kmsg', level: 'warn', message: `could not lower the console loglevel: ${(err as Error).message}` });
    return undefined;
  }
  const below = relayBelow(previous);
  const relay = (record: string) => {
    const r = parseKmsg(record);
    if (!r || r.level >= below) return;
    const who = r.facility === 0 ? 'kernel' : 'kmsg';
    bus.emit({ kind: 'kernel.log', level: r.level < WARN ? 'error' : 'warn', message: `${who}: ${r.text}`, kernelLevel: r.level, facility: r.facility });
  };
  // /dev/kmsg cannot be polled from Node's loop; reading it twice a second costs a few syscalls.
  const now = () => drain(fd, buf, relay, MAX_RECORDS_PER_POLL);
  const timer = setInterval(now, POLL_MS);
  timer.unref();
  bus.emit({ kind: 'console.kmsg', level: 'debug', message: `kernel console loglevel ${previous} -> ${EMERG_ONLY}; keel relays kernel messages below level ${below}`, previous });
  return now;
}

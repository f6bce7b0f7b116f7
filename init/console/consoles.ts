// Every console on the kernel command line. The kernel makes /dev/console the
// last console= it was given; keel's stdout is that one. The others
// (console=tty0 console=ttyS0 …) would hear nothing from init without this:
// a known LinuxKit complaint. Each that is a terminal gets a keel> prompt of
// its own too. Writing to them is best effort: a console that cannot take a
// line now drops it rather than stall PID 1.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { dropWhenFull } from './sink.js';
import { isatty, ReadStream } from 'node:tty';

/** The device names of console= words, in order, each once: "ttyS0,115200n8" gives "ttyS0". */
export function parseConsoles(cmdline: string): string[] {
  const out: string[] = [];
  for (const word of cmdline.trim().split(/\s+/)) {
    if (!word.startsWith('console=')) continue;
    const name = word.slice('console='.length).split(',')[0]!;
    if (/^[A-Za-z0-9]+$/.test(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * The device behind /dev/console: the last entry of /sys/class/tty/console/active.
 * Usually the last console= word, but not always: a driver serves only one of
 * its ports as a kernel console (console=ttyS1 console=ttyS0 gives ttyS1 alone).
 */
export function activeConsole(active: string): string | undefined {
  return active.trim().split(/\s+/).filter(Boolean).pop();
}

/** A console's output as a stream, for readline: writes that never wait (dropWhenFull). */
export class ConsoleOutput extends Writable {
  columns: number | undefined;
  rows: number | undefined;
  constructor(private readonly put: (text: string | Buffer) => void) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.put(chunk);
    cb();
  }
}

export interface ExtraConsole {
  name: string;
  /** keel's lines to this console. */
  write(text: string): void;
  /** When the device is a terminal (a serial port, a virtual terminal): its input and output, for a keel> prompt of its own. */
  terminal?: { input: ReadStream; output: ConsoleOutput };
}

/** The device's input as a terminal stream, or undefined if it is not a terminal or cannot be read. */
function terminalInput(path: string): ReadStream | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    if (!isatty(fd)) {
      closeSync(fd);
      return undefined;
    }
    const input = new ReadStream(fd);
    input.on('error', () => {
      /* a console that goes away is not fatal */
    });
    return input;
  } catch {
    if (fd !== undefined) closeSync(fd);
    return undefined;
  }
}

/**
 * Opens every console= device but the one stdout already is: for keel's
 * lines, and, where the device is a terminal, for a prompt of its own.
 * O_NOCTTY: PID 1 must not gain a controlling terminal.
 */
export function openExtraConsoles(cmdline: string, current: string | undefined): ExtraConsole[] {
  const all = parseConsoles(cmdline);
  const out: ExtraConsole[] = [];
  for (const name of all.filter((n) => n !== (current ?? all[all.length - 1]))) {
    let fd: number;
    try {
      fd = openSync(`/dev/${name}`, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch {
      continue; // no such device on this machine (ttyAMA0 on a PC): skip it
    }
    const put = dropWhenFull(fd);
    const input = terminalInput(`/dev/${name}`);
    out.push({ name, write: put, ...(input ? { terminal: { input, output: new ConsoleOutput(put) } } : {}) });
  }
  return out;
}

/** The consoles other than /dev/console on this machine's kernel command line, opened; none when /proc/cmdline cannot be read. */
export function findExtraConsoles(): ExtraConsole[] {
  let active: string | undefined;
  try {
    active = activeConsole(readFileSync('/sys/class/tty/console/active', 'utf8'));
  } catch {
    /* older kernels: assume the last console= */
  }
  try {
    return openExtraConsoles(readFileSync('/proc/cmdline', 'utf8'), active);
  } catch {
    return []; // no /proc/cmdline: only /dev/console then
  }
}

/**
 * Whether keel colours its warnings and errors. `keel.color=on|off|auto` on
 * the kernel command line decides (the last one wins), then KEEL_COLOR in the
 * environment (namespace mode), else auto: a terminal whose TERM is set and is
 * not "dumb". The kernel passes TERM=linux to init, so a serial console is
 * coloured unless told keel.color=off.
 */
export function consoleColour(cmdline: string, env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  let choice: string | undefined;
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith('keel.color=')) choice = word.slice('keel.color='.length);
  choice ??= env.KEEL_COLOR;
  if (choice === 'on') return true;
  if (choice === 'off') return false;
  return isTty && env.TERM !== undefined && env.TERM !== '' && env.TERM !== 'dumb';
}

// Every console on the kernel command line. The kernel makes /dev/console the
// last console= it was given; keel's stdout is that one. The others
// (console=tty0 console=ttyS0 …) would hear nothing from init without this:
// a known LinuxKit complaint. Writing to them is best effort: a console that
// cannot take a line now drops it rather than stall PID 1.
import { constants, openSync, writeSync } from 'node:fs';

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

export interface ExtraConsoles {
  names: string[];
  write(text: string): void;
}

/**
 * The device behind /dev/console: the last entry of /sys/class/tty/console/active.
 * Usually the last console= word, but not always: a driver serves only one of
 * its ports as a kernel console (console=ttyS1 console=ttyS0 gives ttyS1 alone).
 */
export function activeConsole(active: string): string | undefined {
  return active.trim().split(/\s+/).filter(Boolean).pop();
}

/** Opens every console= device but the one stdout already is. O_NOCTTY: PID 1 must not gain a controlling terminal. */
export function openExtraConsoles(cmdline: string, current: string | undefined): ExtraConsoles {
  const all = parseConsoles(cmdline);
  const names = all.filter((n) => n !== (current ?? all[all.length - 1]));
  const fds: number[] = [];
  const opened: string[] = [];
  for (const name of names) {
    try {
      fds.push(openSync(`/dev/${name}`, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK));
      opened.push(name);
    } catch {
      /* no such device on this machine (ttyAMA0 on a PC): skip it */
    }
  }
  return {
    names: opened,
    write(text) {
      const bytes = Buffer.from(text);
      for (const fd of fds) {
        let done = 0;
        try {
          while (done < bytes.length) done += writeSync(fd, bytes, done);
        } catch {
          /* EAGAIN on a full tty: drop the rest there, never wait */
        }
        // A line cut short still ends, so the next one starts at the left margin, not inside it.
        if (done > 0 && done < bytes.length) {
          try {
            writeSync(fd, '\n');
          } catch {
            /* still full */
          }
        }
      }
    },
  };
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

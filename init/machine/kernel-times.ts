// When the kernel unpacked the initramfs and ran /init, from the kernel's
// own log: /dev/kmsg keeps every record's time (µs since boot) whatever the
// console loglevel, so these are there with `quiet` too. The boot report
// and the boot benchmark read them.
import { closeSync, constants, openSync, readSync } from 'node:fs';

export interface KernelTimes {
  /** "Trying to unpack rootfs image as initramfs..." */
  unpackStartMs?: number;
  /** "Freeing initrd memory": the unpacking is over. */
  unpackEndMs?: number;
  /** "Run /init as init process" */
  initRunMs?: number;
}

const MARKS: ReadonlyArray<[keyof KernelTimes, RegExp]> = [
  ['unpackStartMs', /^Trying to unpack rootfs image/],
  ['unpackEndMs', /^Freeing initrd memory/],
  ['initRunMs', /^Run \S+ as init process/],
];

/** The times in one /dev/kmsg record ("PRI,SEQ,USEC,FLAGS;text"), added to `into`. */
export function noteKernelTime(record: string, into: KernelTimes): void {
  const semi = record.indexOf(';');
  if (semi < 0) return;
  const usec = Number(record.slice(0, semi).split(',')[2]);
  const text = record.slice(semi + 1);
  for (const [key, re] of MARKS) if (into[key] === undefined && re.test(text) && Number.isFinite(usec)) into[key] = Math.round(usec / 1000);
}

/** Reads the kernel log from its start (an fd of its own, not keel's relay's), without blocking. */
export function kernelTimes(): KernelTimes {
  const times: KernelTimes = {};
  let fd: number;
  try {
    fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return times;
  }
  const buf = Buffer.alloc(8192);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue; // a record overwritten before it was read
        break; // EAGAIN: the end
      }
      if (n <= 0) break;
      noteKernelTime(buf.toString('utf8', 0, n), times);
    }
  } finally {
    closeSync(fd);
  }
  return times;
}

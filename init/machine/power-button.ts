// The power button: ACPI reports it as KEY_POWER on an input device (the
// button and evdev modules), and nothing turns that into a shutdown but us.
// keel reads every input device that can send KEY_POWER.
import { createReadStream, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';

const KEY_POWER = 116;
const EV_KEY = 1;
// struct input_event on 64-bit: timeval (16 bytes), type u16, code u16, value s32.
const EVENT_SIZE = 24;

/** Whether the device's key capability bitmap (hex words, most significant first) has KEY_POWER. */
export function hasPowerKey(capabilities: string): boolean {
  const words = capabilities.trim().split(/\s+/).reverse();
  const word = words[Math.floor(KEY_POWER / 64)];
  if (!word) return false;
  return (BigInt(`0x${word}`) >> BigInt(KEY_POWER % 64)) & 1n ? true : false;
}

export function watchPowerButton(onPress: () => void, onError: (msg: string) => void): number {
  const base = '/sys/class/input';
  if (!existsSync(base)) return 0;
  let watched = 0;
  for (const name of readdirSync(base).filter((n) => n.startsWith('event'))) {
    try {
      if (!hasPowerKey(readFileSync(`${base}/${name}/device/capabilities/key`, 'utf8'))) continue;
    } catch {
      continue;
    }
    // Opened here, not by the stream on libuv's pool: evdev keeps only the
    // events that come after a reader opened the device, and a press right
    // after boot complete (a test's, an impatient operator's) must count.
    let fd: number;
    try {
      fd = openSync(`/dev/input/${name}`, 'r');
    } catch (err) {
      onError(`${name}: ${(err as Error).message}`);
      continue;
    }
    const stream = createReadStream('', { fd, highWaterMark: EVENT_SIZE * 16 });
    let pending = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer | string) => {
      pending = Buffer.concat([pending, Buffer.from(chunk)]);
      while (pending.length >= EVENT_SIZE) {
        const type = pending.readUInt16LE(16);
        const code = pending.readUInt16LE(18);
        const value = pending.readInt32LE(20);
        pending = pending.subarray(EVENT_SIZE);
        if (type === EV_KEY && code === KEY_POWER && value === 1) onPress();
      }
    });
    stream.on('error', (err) => onError(`${name}: ${err.message}`));
    watched++;
  }
  return watched;
}

// The guest end of the host↔guest control channel: a virtio-serial port
// named org.keel.api that `keel run` attaches to. Each connection the host
// opens over it (see api/channel-frames.ts) becomes a connection to
// keel's own control socket, so `keel --vm NAME ps` on the host speaks the
// same HTTP API as `keel ps` inside.
import { closeSync, existsSync, openSync, read, readdirSync, readFileSync, write } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { KeelEventInput } from '../../events/bus.js';
import { ChannelEnd } from '../../api/channel-end.js';
import { creditOf, OVERRUN_LIMIT_BYTES, speaksFlow, versionPayload } from '../../api/channel-flow.js';
import { CHANNEL_PORT_NAME, encodeFrame, FRAME_CLOSE, FRAME_CREDIT, FRAME_DATA, FRAME_EOF, FRAME_OPEN, FRAME_RESET, FrameDecoder, type Frame } from '../../api/channel-frames.js';

type Emit = (e: KeelEventInput) => void;

/** /dev/vportNpM of the port with that name (devtmpfs makes the node; there is no udev for the by-name link). */
export function findPort(name: string, sysDir = '/sys/class/virtio-ports'): string | undefined {
  if (!existsSync(sysDir)) return undefined;
  for (const port of readdirSync(sysDir)) {
    try {
      if (readFileSync(join(sysDir, port, 'name'), 'utf8').trim() === name) return `/dev/${port}`;
    } catch {
      /* a port without a name */
    }
  }
  return undefined;
}

/** The byte stream under the channel: the virtio-serial device, or anything else that reads and writes. */
export interface ChannelIo {
  /** Resolves with the bytes read; 0 means no peer is attached right now. */
  read(buf: Buffer): Promise<number>;
  /** Resolves with how many bytes were written. */
  write(buf: Buffer): Promise<number>;
}

/** Blocking reads and writes on the port's fd, each on a threadpool thread. */
export function deviceIo(fd: number): ChannelIo {
  return {
    read: (buf) => new Promise((res, rej) => read(fd, buf, 0, buf.length, null, (err, n) => (err ? rej(err) : res(n)))),
    write: (buf) => new Promise((res, rej) => write(fd, buf, 0, buf.length, null, (err, n) => (err ? rej(err) : res(n)))),
  };
}

/** Bytes queued for the port past which the API connections are paused until the port has taken them. */
const MAX_QUEUED_BYTES = 1 << 20;

export class VmChannel {
  private readonly decoder = new FrameDecoder();
  /** The connections, their flow, and the frames for the port (api/channel-end.ts). */
  private readonly end: ChannelEnd;
  private stopped = false;

  /** `knowsFlow`: false only to stand in for an older keel-init in tests. */
  constructor(
    private readonly io: ChannelIo,
    private readonly apiSocket: string,
    private readonly emit: Emit,
    private readonly knowsFlow = true,
  ) {
    this.end = new ChannelEnd(
      (frame) =>
        this.writeAll(frame).catch((err: Error) => {
          this.emit({ kind: 'channel.error', level: 'debug', message: `control channel write: ${err.message}` });
        }),
      MAX_QUEUED_BYTES,
    );
  }

  /**
   * One read at a time (on the device, a blocking read on a threadpool
   * thread). A read of 0 bytes means no host is attached (the port's other
   * end is closed): look again in a second rather than spin.
   */
  start(): void {
    this.readLoop();
  }

  stop(): void {
    this.stopped = true;
    this.dropAll();
  }

  private readLoop(): void {
    if (this.stopped) return;
    const buf = Buffer.alloc(64 * 1024);
    this.io.read(buf).then(
      (n) => this.onRead(buf, n),
      (err: Error) => this.onRead(buf, 0, err),
    );
  }

  private onRead(buf: Buffer, n: number, err?: Error): void {
    if (this.stopped) return;
    if (err || n === 0) {
      if (err) this.emit({ kind: 'channel.error', level: 'debug', message: `control channel read: ${err.message}` });
      setTimeout(() => this.readLoop(), 1000).unref();
      return;
    }
    try {
      for (const f of this.decoder.push(buf.subarray(0, n))) this.onFrame(f);
    } catch (e) {
      // Out of step with the host: forget everything; the host resets on reattach.
      this.emit({ kind: 'channel.error', level: 'warn', message: `control channel: ${(e as Error).message}; dropping its connections` });
      this.dropAll();
    }
    this.readLoop();
  }

  private onFrame(f: Frame): void {
    const conns = this.end.conns;
    switch (f.type) {
      case FRAME_RESET:
        this.dropAll();
        this.end.speaksFlow = this.knowsFlow && speaksFlow(f.payload);
        if (this.end.speaksFlow) this.end.out.pushUrgent(encodeFrame(FRAME_RESET, 0, versionPayload()));
        return;
      case FRAME_OPEN:
        conns.get(f.id)?.sock.destroy();
        // Half-open allowed: a client that ends its input still gets the whole answer.
        this.end.add(f.id, connect({ path: this.apiSocket, allowHalfOpen: true }));
        return;
      case FRAME_DATA:
        if (this.end.deliver(f.id, f.payload)) {
          this.emit({ kind: 'channel.error', level: 'warn', message: `control channel: connection ${f.id} was closed: keel's API took its input more slowly than the host sent it (${OVERRUN_LIMIT_BYTES} bytes waiting)` });
        }
        return;
      case FRAME_CREDIT:
        conns.get(f.id)?.flow.granted(creditOf(f.payload));
        return;
      case FRAME_EOF:
        conns.get(f.id)?.sock.end();
        return;
      case FRAME_CLOSE: {
        const c = conns.get(f.id);
        conns.delete(f.id);
        c?.sock.destroy();
        return;
      }
    }
  }

  private dropAll(): void {
    for (const c of this.end.clear()) c.sock.destroy();
  }

  /**
   * Resolves once nothing has been sent for idleMs and every write is done,
   * or after maxMs. At shutdown this lets the answer to "keel poweroff" (already
   * in the API socket, not yet relayed) reach the host before reboot(2).
   */
  async flush(maxMs = 500, idleMs = 50): Promise<void> {
    const deadline = performance.now() + maxMs;
    // Sleep first: the answer may still sit unread in the API socket, and only
    // the event loop (not a resolved promise) gets it read and sent.
    await new Promise((r) => setTimeout(r, idleMs));
    while (performance.now() < deadline) {
      await Promise.race([this.end.out.idle(), new Promise((r) => setTimeout(r, Math.max(1, deadline - performance.now())))]);
      const quiet = performance.now() - this.end.out.lastQueuedAt;
      if (quiet >= idleMs) return;
      await new Promise((r) => setTimeout(r, idleMs - quiet));
    }
  }

  private async writeAll(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length && !this.stopped; ) at += await this.io.write(data.subarray(at));
  }
}

let active: VmChannel | undefined;

/** Flushes the machine's control channel, if it has one (see VmChannel.flush). */
export function flushVmChannel(): Promise<void> {
  return active ? active.flush() : Promise.resolve();
}

function open(dev: string, apiSocket: string, emit: Emit): VmChannel | undefined {
  let fd: number;
  try {
    fd = openSync(dev, 'r+');
  } catch (err) {
    emit({ kind: 'channel.error', level: 'warn', message: `control channel ${dev}: ${(err as Error).message}` });
    return undefined;
  }
  const ch = new VmChannel(deviceIo(fd), apiSocket, emit);
  active = ch;
  ch.start();
  emit({ kind: 'channel.open', level: 'debug', message: `control channel on ${dev}` });
  process.once('exit', () => {
    ch.stop();
    try {
      closeSync(fd);
    } catch {
      /* closing at exit */
    }
  });
  return ch;
}

/**
 * Serves the channel if the machine has the port. The port shows up while
 * virtio_console probes, which may finish just after the module loads, so
 * it is looked for a few times before concluding there is none.
 */
export function startVmChannel(apiSocket: string, emit: Emit, tries = 10): void {
  const dev = findPort(CHANNEL_PORT_NAME);
  if (dev) {
    open(dev, apiSocket, emit);
    return;
  }
  if (tries > 1) setTimeout(() => startVmChannel(apiSocket, emit, tries - 1), 500).unref();
}

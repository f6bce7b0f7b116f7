// The guest end of the host↔guest control channel: a virtio-serial port
// named org.keel.api that `keel run` attaches to. Each connection the host
// opens over it (see api/channel-frames.ts) becomes a connection to
// keel's own control socket, so `keel --vm NAME ps` on the host speaks the
// same HTTP API as `keel ps` inside.
import { closeSync, existsSync, openSync, read, readdirSync, readFileSync, write } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { KeelEventInput } from '../../events/bus.js';
import { CHANNEL_PORT_NAME, dataFrames, encodeFrame, FRAME_CLOSE, FRAME_DATA, FRAME_EOF, FRAME_OPEN, FRAME_RESET, FrameDecoder, type Frame } from '../../api/channel-frames.js';

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
  private readonly conns = new Map<number, Socket>();
  private readonly decoder = new FrameDecoder();
  private writing: Promise<void> = Promise.resolve();
  /** Bytes handed to send() not yet written to the port. */
  private queued = 0;
  /** Connections paused because the port is behind: a host that reads slowly (or not at all) must not grow keel-init. */
  private readonly held = new Set<Socket>();
  private stopped = false;
  private lastSend = -Infinity;

  constructor(
    private readonly io: ChannelIo,
    private readonly apiSocket: string,
    private readonly emit: Emit,
  ) {}

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
    switch (f.type) {
      case FRAME_RESET:
        this.dropAll();
        return;
      case FRAME_OPEN: {
        this.conns.get(f.id)?.destroy();
        // Half-open allowed: a client that ends its input still gets the whole answer.
        const sock = connect({ path: this.apiSocket, allowHalfOpen: true });
        this.conns.set(f.id, sock);
        sock.on('data', (d: Buffer) => {
          this.send(...dataFrames(f.id, d));
          if (this.queued > MAX_QUEUED_BYTES && !this.held.has(sock)) {
            this.held.add(sock);
            sock.pause();
          }
        });
        sock.on('end', () => {
          if (this.conns.get(f.id) === sock) this.send(encodeFrame(FRAME_EOF, f.id));
        });
        sock.on('error', () => undefined); // the close that follows says it
        sock.on('close', () => {
          if (this.conns.get(f.id) !== sock) return;
          this.conns.delete(f.id);
          this.send(encodeFrame(FRAME_CLOSE, f.id));
        });
        return;
      }
      case FRAME_DATA:
        this.conns.get(f.id)?.write(f.payload);
        return;
      case FRAME_EOF:
        this.conns.get(f.id)?.end();
        return;
      case FRAME_CLOSE: {
        const sock = this.conns.get(f.id);
        this.conns.delete(f.id);
        sock?.destroy();
        return;
      }
    }
  }

  private dropAll(): void {
    const all = [...this.conns.values()];
    this.conns.clear();
    for (const s of all) s.destroy();
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
      await Promise.race([this.writing, new Promise((r) => setTimeout(r, Math.max(1, deadline - performance.now())))]);
      const quiet = performance.now() - this.lastSend;
      if (quiet >= idleMs) return;
      await new Promise((r) => setTimeout(r, idleMs - quiet));
    }
  }

  /** Frames go out in order, one write after another. */
  private send(...frames: Buffer[]): void {
    this.lastSend = performance.now();
    const data = Buffer.concat(frames);
    this.queued += data.length;
    this.writing = this.writing
      .then(() => this.writeAll(data))
      .catch((err: Error) => {
        this.emit({ kind: 'channel.error', level: 'debug', message: `control channel write: ${err.message}` });
      })
      .finally(() => this.sent(data.length));
  }

  /** The port took `n` bytes: once it has caught up, paused connections are read again. */
  private sent(n: number): void {
    this.queued -= n;
    if (this.queued > MAX_QUEUED_BYTES / 2 || this.held.size === 0) return;
    const held = [...this.held];
    this.held.clear();
    for (const sock of held) if (!sock.destroyed) sock.resume();
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

// The host end of the control channel (see api/channel-frames.ts):
// qemu connects its virtio-serial chardev to channel.sock, and every client
// of api.sock becomes one framed connection to keel's control socket in the
// guest. Until the guest answers, clients simply wait: keel-init starts the
// channel early in boot.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { ChannelEnd } from '../../api/channel-end.js';
import { creditOf, speaksFlow, versionPayload } from '../../api/channel-flow.js';
import { encodeFrame, FRAME_CLOSE, FRAME_CREDIT, FRAME_DATA, FRAME_EOF, FRAME_OPEN, FRAME_RESET, FrameDecoder } from '../../api/channel-frames.js';

export interface ChannelHost {
  /**
   * Once qemu has exited: lets what it last passed on (the answer to a
   * `keel --vm NAME poweroff`, written just before the power went) reach
   * its client, then closes everything.
   */
  close(): Promise<void>;
}

function listen(server: Server, path: string): Promise<void> {
  rmSync(path, { force: true });
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolveListen();
    });
  });
}

/**
 * Bytes queued for the guest past which clients are no longer read until qemu
 * has taken them. The channel is one stream, in order: a client that sends
 * faster than the guest takes it (keel --vm exec fed from /dev/zero) grew
 * keel run by hundreds of MiB, and every other client's request waited behind
 * all of it, minutes after that client had gone.
 */
const MAX_AHEAD_BYTES = 1 << 20;
/** What the scheduler hands qemu's socket at once: past this, it waits for the socket to drain. */
const SOCKET_AHEAD_BYTES = 64 * 1024;

/** The relay between qemu's end of the channel (one guest) and the clients of api.sock. */
class Relay {
  private guest: Socket | undefined;
  private readonly decoder = new FrameDecoder();
  /** The clients, their flow, and the frames for the guest (api/channel-end.ts). */
  private readonly end: ChannelEnd;
  private nextId = 1;

  /** `knowsFlow`: false only to stand in for an older keel run in tests. */
  constructor(private readonly knowsFlow = true) {
    this.end = new ChannelEnd((frame) => this.writeToGuest(frame), MAX_AHEAD_BYTES);
  }

  /** gently: end them, so what was already written to them still arrives. */
  dropClients(gently = false): void {
    for (const c of this.end.clear()) if (gently) c.sock.end();
    else c.sock.destroy();
  }

  /** One frame to qemu's socket; resolves once the socket has room for more. */
  private writeToGuest(frame: Buffer): Promise<void> {
    const g = this.guest;
    if (!g || g.destroyed) return Promise.resolve();
    g.write(frame);
    if (g.writableLength <= SOCKET_AHEAD_BYTES) return Promise.resolve();
    return new Promise((r) => {
      const done = () => {
        g.off('drain', done);
        g.off('close', done);
        r();
      };
      g.on('drain', done);
      g.on('close', done);
    });
  }

  /** Drops every client and says RESET, offering flow control: on a new qemu connection, or a stream out of step. */
  private reset(): void {
    this.dropClients();
    this.end.speaksFlow = false;
    this.end.out.pushUrgent(encodeFrame(FRAME_RESET, 0, this.knowsFlow ? versionPayload() : undefined));
  }

  /** A new qemu connection (or a reconnect): whatever was open is gone. */
  attachGuest(sock: Socket): void {
    this.guest?.destroy();
    this.guest = sock;
    this.decoder.reset();
    this.reset();
    sock.on('data', (chunk: Buffer) => this.fromGuest(chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.guest === sock) this.guest = undefined;
      this.dropClients(true);
    });
  }

  private fromGuest(chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.reset();
      return;
    }
    for (const f of frames) {
      const client = this.end.conns.get(f.id);
      if (f.type === FRAME_RESET) this.end.speaksFlow = this.knowsFlow && speaksFlow(f.payload);
      else if (f.type === FRAME_CREDIT) client?.flow.granted(creditOf(f.payload));
      // A client far behind is closed there (said by the client seeing it close; keel run's terminal is the VM's console).
      else if (f.type === FRAME_DATA) this.end.deliver(f.id, f.payload);
      else if (f.type === FRAME_EOF) client?.sock.end();
      else if (f.type === FRAME_CLOSE) {
        this.end.conns.delete(f.id);
        client?.sock.end();
      }
    }
  }

  attachClient(client: Socket): void {
    const id = this.nextId++;
    this.end.out.push(id, encodeFrame(FRAME_OPEN, id));
    this.end.add(id, client);
    if (!this.guest) client.end(); // no VM attached: the client sees the connection close
  }

  /** Waits (briefly) for qemu's end to close: it does when qemu exits, after the bytes it wrote. */
  async guestGone(): Promise<void> {
    const g = this.guest;
    if (!g || g.destroyed) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, 1000);
      g.once('close', () => {
        clearTimeout(t);
        r();
      });
    });
  }

  destroyGuest(): void {
    this.guest?.destroy();
  }
}

/** `knowsFlow`: false only to stand in for an older keel run in tests. */
export async function serveChannel(channelPath: string, apiPath: string, { knowsFlow = true }: { knowsFlow?: boolean } = {}): Promise<ChannelHost> {
  const relay = new Relay(knowsFlow);
  const channel = createServer((sock) => relay.attachGuest(sock));
  // Half-open allowed: a client's end of input travels as EOF, and its answer still comes back.
  const api = createServer({ allowHalfOpen: true }, (client) => relay.attachClient(client));
  await listen(channel, channelPath);
  await listen(api, apiPath);
  return {
    async close() {
      await relay.guestGone();
      // Clients whose answers came in full are ended already; give the sockets a tick to flush.
      await new Promise((r) => setImmediate(r));
      relay.dropClients(true);
      relay.destroyGuest();
      channel.close();
      api.close();
    },
  };
}

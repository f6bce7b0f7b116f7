// The host end of the control channel (see api/channel-frames.ts):
// qemu connects its virtio-serial chardev to channel.sock, and every client
// of api.sock becomes one framed connection to keel's control socket in the
// guest. Until the guest answers, clients simply wait: keel-init starts the
// channel early in boot.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { creditOf, overrun, socketFlow, speaksFlow, versionPayload, type ChannelEnd, type ConnectionFlow } from '../../api/channel-flow.js';
import { dataFrames, encodeFrame, FRAME_CLOSE, FRAME_CREDIT, FRAME_DATA, FRAME_EOF, FRAME_OPEN, FRAME_RESET, FrameDecoder } from '../../api/channel-frames.js';
import { FrameScheduler } from '../../api/frame-scheduler.js';

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

interface Client {
  sock: Socket;
  flow: ConnectionFlow;
}

/** The relay between qemu's end of the channel (one guest) and the clients of api.sock. */
class Relay {
  private guest: Socket | undefined;
  private readonly decoder = new FrameDecoder();
  private readonly clients = new Map<number, Client>();
  /** Clients not read while the guest is behind. */
  private readonly held = new Map<Socket, ConnectionFlow>();
  private nextId = 1;
  /** The guest said it knows flow control (channel-flow.ts). */
  private flow = false;
  private readonly out: FrameScheduler;

  /** `knowsFlow`: false only to stand in for an older keel run in tests. */
  private readonly end: ChannelEnd;

  constructor(private readonly knowsFlow = true) {
    this.out = new FrameScheduler((frame) => this.writeToGuest(frame), () => this.resumeHeld());
    this.end = { out: this.out, speaksFlow: () => this.flow, isCurrent: (id, sock) => this.clients.get(id)?.sock === sock, heldElsewhere: (sock) => this.held.has(sock) };
  }

  /** gently: end them, so what was already written to them still arrives. */
  dropClients(gently = false): void {
    for (const c of this.clients.values()) if (gently) c.sock.end();
    else c.sock.destroy();
    this.clients.clear();
    this.held.clear();
    this.out.clear();
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

  /** A new qemu connection (or a reconnect): whatever was open is gone. */
  attachGuest(sock: Socket): void {
    this.guest?.destroy();
    this.guest = sock;
    this.decoder.reset();
    this.dropClients();
    this.flow = false;
    this.out.pushUrgent(encodeFrame(FRAME_RESET, 0, this.knowsFlow ? versionPayload() : undefined));
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
      this.dropClients();
      this.flow = false;
      this.out.pushUrgent(encodeFrame(FRAME_RESET, 0, this.knowsFlow ? versionPayload() : undefined));
      return;
    }
    for (const f of frames) {
      const client = this.clients.get(f.id);
      if (f.type === FRAME_RESET) this.flow = this.knowsFlow && speaksFlow(f.payload);
      else if (f.type === FRAME_CREDIT) client?.flow.granted(creditOf(f.payload));
      else if (f.type === FRAME_DATA) this.deliver(f.id, f.payload);
      else if (f.type === FRAME_EOF) client?.sock.end();
      else if (f.type === FRAME_CLOSE) {
        this.clients.delete(f.id);
        client?.sock.end();
      }
    }
  }

  /** Guest data for a client; granted back once the client's socket has taken it. */
  private deliver(id: number, payload: Buffer): void {
    const client = this.clients.get(id);
    if (!client) return;
    client.sock.write(payload, () => client.flow.delivered(payload.length));
    // A guest that sends past its credit (an older keel-init grants none and is granted none) would have keel run
    // hold all of it for a client that does not read: that client loses its connection instead (said by the client
    // seeing it close; keel run's own terminal is the VM's console).
    if (overrun(client.sock)) {
      this.clients.delete(id);
      client.sock.destroy();
      this.out.push(id, encodeFrame(FRAME_CLOSE, id));
    }
  }

  attachClient(client: Socket): void {
    const id = this.nextId++;
    const flow = socketFlow(this.end, id, client);
    this.clients.set(id, { sock: client, flow });
    this.out.push(id, encodeFrame(FRAME_OPEN, id));
    client.on('data', (d: Buffer) => {
      this.out.push(id, ...dataFrames(id, d));
      flow.sent(d.length);
      if (this.out.queued > MAX_AHEAD_BYTES && !this.held.has(client)) {
        client.pause();
        this.held.set(client, flow);
      }
    });
    client.on('end', () => {
      if (this.clients.has(id)) this.out.push(id, encodeFrame(FRAME_EOF, id));
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      this.held.delete(client);
      if (this.clients.delete(id)) this.out.push(id, encodeFrame(FRAME_CLOSE, id));
    });
    if (!this.guest) client.end(); // no VM attached: the client sees the connection close
  }

  /** The guest has taken what was queued: the held clients are read again (unless out of credit). */
  private resumeHeld(): void {
    if (this.out.queued > MAX_AHEAD_BYTES / 2 || this.held.size === 0) return;
    const held = [...this.held];
    this.held.clear();
    for (const [c, flow] of held) if (!c.destroyed && !flow.holding) c.resume();
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

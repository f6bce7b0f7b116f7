// The host end of the control channel (see api/channel-frames.ts):
// qemu connects its virtio-serial chardev to channel.sock, and every client
// of api.sock becomes one framed connection to keel's control socket in the
// guest. Until the guest answers, clients simply wait: keel-init starts the
// channel early in boot.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dataFrames, encodeFrame, FRAME_CLOSE, FRAME_DATA, FRAME_EOF, FRAME_OPEN, FRAME_RESET, FrameDecoder } from '../../api/channel-frames.js';

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

/** The relay between qemu's end of the channel (one guest) and the clients of api.sock. */
class Relay {
  private guest: Socket | undefined;
  private readonly decoder = new FrameDecoder();
  private readonly clients = new Map<number, Socket>();
  /** Clients not read while the guest is behind. */
  private readonly held = new Set<Socket>();
  private nextId = 1;

  /** gently: end them, so what was already written to them still arrives. */
  dropClients(gently = false): void {
    for (const c of this.clients.values()) if (gently) c.end();
    else c.destroy();
    this.clients.clear();
    this.held.clear();
  }

  private toGuest(frame: Buffer): void {
    this.guest?.write(frame);
  }

  /** A new qemu connection (or a reconnect): whatever was open is gone. */
  attachGuest(sock: Socket): void {
    this.guest?.destroy();
    this.guest = sock;
    this.decoder.reset();
    this.dropClients();
    sock.write(encodeFrame(FRAME_RESET, 0));
    sock.on('data', (chunk: Buffer) => this.fromGuest(sock, chunk));
    sock.on('drain', () => this.resumeHeld());
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.guest === sock) this.guest = undefined;
      this.dropClients(true);
    });
  }

  private fromGuest(sock: Socket, chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.dropClients();
      sock.write(encodeFrame(FRAME_RESET, 0));
      return;
    }
    for (const f of frames) {
      const client = this.clients.get(f.id);
      if (f.type === FRAME_DATA) client?.write(f.payload);
      else if (f.type === FRAME_EOF) client?.end();
      else if (f.type === FRAME_CLOSE) {
        this.clients.delete(f.id);
        client?.end();
      }
    }
  }

  attachClient(client: Socket): void {
    const id = this.nextId++;
    this.clients.set(id, client);
    this.toGuest(encodeFrame(FRAME_OPEN, id));
    client.on('data', (d: Buffer) => {
      for (const f of dataFrames(id, d)) this.toGuest(f);
      if ((this.guest?.writableLength ?? 0) > MAX_AHEAD_BYTES) {
        client.pause();
        this.held.add(client);
      }
    });
    client.on('end', () => {
      if (this.clients.has(id)) this.toGuest(encodeFrame(FRAME_EOF, id));
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      this.held.delete(client);
      if (this.clients.delete(id)) this.toGuest(encodeFrame(FRAME_CLOSE, id));
    });
    if (!this.guest) client.end(); // no VM attached: the client sees the connection close
  }

  /** The guest has taken what was queued: the held clients are read again. */
  private resumeHeld(): void {
    const held = [...this.held];
    this.held.clear();
    for (const c of held) if (!c.destroyed) c.resume();
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

export async function serveChannel(channelPath: string, apiPath: string): Promise<ChannelHost> {
  const relay = new Relay();
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

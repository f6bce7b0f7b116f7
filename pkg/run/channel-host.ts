// The host end of the control channel (see services/channel-frames.ts):
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

export async function serveChannel(channelPath: string, apiPath: string): Promise<ChannelHost> {
  let guest: Socket | undefined;
  const decoder = new FrameDecoder();
  const clients = new Map<number, Socket>();
  let nextId = 1;

  /** gently: end them, so what was already written to them still arrives. */
  const dropClients = (gently = false) => {
    for (const c of clients.values()) if (gently) c.end();
    else c.destroy();
    clients.clear();
  };
  const toGuest = (frame: Buffer) => guest?.write(frame);

  const channel = createServer((sock) => {
    // A new qemu connection (or a reconnect): whatever was open is gone.
    guest?.destroy();
    guest = sock;
    decoder.reset();
    dropClients();
    sock.write(encodeFrame(FRAME_RESET, 0));
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        dropClients();
        sock.write(encodeFrame(FRAME_RESET, 0));
        return;
      }
      for (const f of frames) {
        const client = clients.get(f.id);
        if (f.type === FRAME_DATA) client?.write(f.payload);
        else if (f.type === FRAME_EOF) client?.end();
        else if (f.type === FRAME_CLOSE) {
          clients.delete(f.id);
          client?.end();
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (guest === sock) guest = undefined;
      dropClients(true);
    });
  });

  // Half-open allowed: a client's end of input travels as EOF, and its answer still comes back.
  const api = createServer({ allowHalfOpen: true }, (client) => {
    const id = nextId++;
    clients.set(id, client);
    toGuest(encodeFrame(FRAME_OPEN, id));
    client.on('data', (d: Buffer) => {
      for (const f of dataFrames(id, d)) toGuest(f);
    });
    client.on('end', () => {
      if (clients.has(id)) toGuest(encodeFrame(FRAME_EOF, id));
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      if (clients.delete(id)) toGuest(encodeFrame(FRAME_CLOSE, id));
    });
    if (!guest) client.end(); // no VM attached: the client sees the connection close
  });

  await listen(channel, channelPath);
  await listen(api, apiPath);
  return {
    async close() {
      // qemu's end closes when qemu exits, after the bytes it wrote; wait for that, briefly.
      const g = guest;
      if (g && !g.destroyed) await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        g.once('close', () => {
          clearTimeout(t);
          r();
        });
      });
      // Clients whose answers came in full are ended already; give the sockets a tick to flush.
      await new Promise((r) => setImmediate(r));
      dropClients(true);
      guest?.destroy();
      channel.close();
      api.close();
    },
  };
}

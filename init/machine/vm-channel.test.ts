// The control channel end to end, both real ends: keel run's host side
// (pkg/run/channel-host.ts) and keel-init's guest side (VmChannel), joined by
// a unix socket standing in for qemu's virtio-serial chardev (the device
// itself needs a VM; test/vm.test.ts drives that path).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveChannel, type ChannelHost } from '../../pkg/run/channel-host.js';
import { floodWriter } from '../../test/helpers/flood.js';
import { encodeFrame, FRAME_CREDIT, FRAME_OPEN, FrameDecoder, type Frame } from '../../api/channel-frames.js';
import { VmChannel, type ChannelIo } from './vm-channel.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-chan-'));
const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

/** A ChannelIo over a connected socket: what the guest reads is what qemu would hand it. */
function socketIo(sock: Socket): ChannelIo {
  const chunks: Buffer[] = [];
  let waiting: (() => void) | undefined;
  sock.on('data', (d: Buffer) => {
    chunks.push(d);
    waiting?.();
  });
  return {
    async read(buf) {
      while (!chunks.length) await new Promise<void>((r) => (waiting = r));
      waiting = undefined;
      const c = chunks.shift()!;
      const n = Math.min(c.length, buf.length);
      c.copy(buf, 0, 0, n);
      if (n < c.length) chunks.unshift(c.subarray(n));
      return n;
    },
    write: (buf) => new Promise((r) => sock.write(buf, () => r(buf.length))),
  };
}

/**
 * The host end, a "qemu" connection to it, and the guest end serving `apiSocket`. `hostFlow`/`guestFlow` false stand
 * in for an older keel run or keel-init, which know no flow control; `fromGuest` gets every frame the guest writes.
 */
async function channel(name: string, api: Server, opts: { hostFlow?: boolean; guestFlow?: boolean; fromGuest?: (f: Frame) => void } = {}): Promise<{ host: ChannelHost; apiPath: string; guest: VmChannel; qemu: Socket }> {
  const guestApi = join(dir, `${name}-guest.sock`);
  await new Promise<void>((r) => api.listen(guestApi, r));
  const host = await serveChannel(join(dir, `${name}-chan.sock`), join(dir, `${name}-api.sock`), { knowsFlow: opts.hostFlow ?? true });
  const qemu = connect(join(dir, `${name}-chan.sock`));
  await new Promise<void>((r) => qemu.once('connect', () => r()));
  const io = socketIo(qemu);
  const decoder = new FrameDecoder();
  const seen = opts.fromGuest;
  const guestIo: ChannelIo = seen ? { read: io.read, write: (buf) => (decoder.push(buf).forEach(seen), io.write(buf)) } : io;
  const guest = new VmChannel(guestIo, guestApi, () => undefined, opts.guestFlow ?? true);
  guest.start();
  closers.push(() => {
    guest.stop();
    qemu.destroy();
    void host.close();
    api.close();
  });
  return { host, apiPath: join(dir, `${name}-api.sock`), guest, qemu };
}

describe('the control channel', () => {
  it('carries HTTP requests, several at once, to the guest API and back', async () => {
    const { apiPath } = await channel('http', createHttpServer((req, res) => res.end(`you asked for ${req.url}`)));
    const get = (path: string) =>
      new Promise<string>((resolveGet, reject) => {
        const req = request({ socketPath: apiPath, path }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolveGet(body));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await Promise.all(['/v1/services', '/v1/boot', '/v1/stats'].map(get))).toEqual(['you asked for /v1/services', 'you asked for /v1/boot', 'you asked for /v1/stats']);
  });

  it('passes a client half-close through, so an answer that comes after the end of input arrives whole', async () => {
    // The guest API counts what it was sent and answers only at the end of input.
    const api = createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('end', () => s.end(`got ${n} bytes`));
    });
    const { apiPath } = await channel('eof', api);
    const client = connect({ path: apiPath, allowHalfOpen: true });
    let answer = '';
    client.on('data', (d: Buffer) => (answer += d.toString()));
    const ended = new Promise<void>((r) => client.on('end', () => r()));
    client.end(Buffer.alloc(200 * 1024, 'x')); // several frames, then EOF
    await ended;
    expect(answer).toBe(`got ${200 * 1024} bytes`);
  });

  it('gets an answer written just before the power goes out to the host, when shutdown flushes first', async () => {
    // As "keel poweroff": the API answers, and at once the machine heads for reboot(2),
    // which here is the transport going away right after flush().
    let powerOff: () => void = () => undefined;
    const api = createServer((s) =>
      s.once('data', () => {
        s.write('poweroff requested');
        powerOff();
      }),
    );
    const { apiPath, guest, qemu } = await channel('flush', api);
    powerOff = () => void guest.flush().then(() => qemu.destroy());
    const client = connect(apiPath);
    let answer = '';
    client.on('data', (d: Buffer) => (answer += d.toString()));
    client.write('POST /v1/poweroff');
    await new Promise<void>((r) => client.on('close', () => r()));
    expect(answer).toBe('poweroff requested');
  });

  it('reads an API connection no further ahead than the port takes: a host that stops reading holds it at about a megabyte', async () => {
    // The port is stalled (its writes do not complete) until `unstall`; the API answers with data as fast as it is read.
    let unstall: () => void = () => undefined;
    const stalled = new Promise<void>((r) => (unstall = r));
    let portBytes = 0;
    const frames = [encodeFrame(FRAME_OPEN, 1)];
    const io: ChannelIo = {
      read: async (buf) => {
        const f = frames.shift();
        if (!f) return new Promise<number>(() => undefined); // nothing more from the host
        f.copy(buf);
        return f.length;
      },
      write: async (buf) => {
        await stalled;
        portBytes += buf.length;
        return buf.length;
      },
    };
    let served = () => 0;
    const api = createServer((s) => {
      s.on('error', () => undefined); // the guest end goes away at the test's end, mid-write
      served = floodWriter(s, Buffer.alloc(64 * 1024, 'x'), 64 * 2 ** 20).sent;
    });
    const apiPath = join(dir, 'held-guest.sock');
    await new Promise<void>((r) => api.listen(apiPath, r));
    const guest = new VmChannel(io, apiPath, () => undefined);
    closers.push(() => {
      guest.stop();
      api.close();
    });
    guest.start();
    await new Promise((r) => setTimeout(r, 1000));
    // Bounded: the channel's megabyte, a frame over it, and what the kernel's socket buffers hold.
    expect(served()).toBeLessThan(8 * 2 ** 20);
    unstall();
    await new Promise((r) => setTimeout(r, 1000));
    expect(portBytes).toBeGreaterThan(8 * 2 ** 20); // it flows again once the port takes it
  });

  it('reads a client no further ahead than qemu takes: a flood is held at about a megabyte, and what is queued after it goes is little', async () => {
    const api = createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => undefined);
    });
    const guestApi = join(dir, 'flood-guest.sock');
    await new Promise<void>((r) => api.listen(guestApi, r));
    const host = await serveChannel(join(dir, 'flood-chan.sock'), join(dir, 'flood-api.sock'));
    const qemu = connect(join(dir, 'flood-chan.sock'));
    await new Promise<void>((r) => qemu.once('connect', () => r()));
    qemu.pause(); // qemu (the guest) takes nothing for now
    const flood = connect(join(dir, 'flood-api.sock'));
    flood.on('error', () => undefined);
    closers.push(() => {
      flood.destroy();
      qemu.destroy();
      void host.close();
      api.close();
    });
    await new Promise<void>((r) => flood.once('connect', () => r()));
    const writer = floodWriter(flood, Buffer.alloc(64 * 1024, 0), 256 * 2 ** 20);
    await new Promise((r) => setTimeout(r, 1500));
    // Taken from the client: keel run's megabyte, a chunk over it, and what the kernel's socket buffers hold on both sides.
    const taken = writer.sent() - flood.writableLength;
    expect(taken).toBeLessThan(12 * 2 ** 20);
    // The client goes; once qemu reads again, what still comes for it is what keel run had taken, no more.
    flood.destroy();
    let fromHost = 0;
    qemu.on('data', (d: Buffer) => (fromHost += d.length));
    qemu.resume();
    await new Promise((r) => setTimeout(r, 500));
    expect(fromHost).toBeGreaterThan(0);
    expect(fromHost).toBeLessThan(taken + 64 * 1024);
  });
});

describe('flow control of each connection over the channel', () => {
  /** A guest API whose first connection is never read; every later one answers "pong" to what it is sent. */
  const stalledFirst = () => {
    let n = 0;
    return createServer((s) => {
      s.on('error', () => undefined);
      if (n++ === 0) s.pause();
      else s.on('data', () => s.write('pong'));
    });
  };
  /** Whether a new client of the host's API gets its "pong" within a few seconds. */
  const answered = async (apiPath: string) => {
    const c = connect(apiPath);
    closers.push(() => c.destroy());
    const got = new Promise<boolean>((r) => {
      c.once('data', () => r(true));
      setTimeout(() => r(false), 3000);
    });
    c.write('ping');
    return got;
  };
  const flood = (apiPath: string) => {
    const c = connect(apiPath);
    c.on('error', () => undefined);
    closers.push(() => c.destroy());
    return { sock: c, writer: floodWriter(c, Buffer.alloc(64 * 1024, 1), 256 * 2 ** 20) };
  };

  it('holds a client that sends to an API connection nobody reads at its window, and the other connections go on', async () => {
    // As `keel --vm NAME exec` of a program that does not read, fed from /dev/zero: in a VM this grew keel-init
    // by 6-8 MB a second, the guest reading the port as fast as it came and buffering what the API did not take.
    const { apiPath } = await channel('stall-in', stalledFirst());
    const { sock, writer } = flood(apiPath);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await answered(apiPath)).toBe(true);
    // The window (256 KiB), a chunk over it, and what the kernel's socket buffers hold on the way.
    expect(writer.sent() - sock.writableLength).toBeLessThan(8 * 2 ** 20);
  });

  it('holds an API connection whose host client does not read at its window, and the other connections go on', async () => {
    let n = 0;
    let served = () => 0;
    const api = createServer((s) => {
      s.on('error', () => undefined);
      if (n++ === 0) served = floodWriter(s, Buffer.alloc(64 * 1024, 1), 256 * 2 ** 20).sent;
      else s.on('data', () => s.write('pong'));
    });
    const { apiPath } = await channel('stall-out', api);
    const reader = connect(apiPath);
    closers.push(() => reader.destroy());
    reader.write('GET');
    reader.pause(); // `keel --vm NAME logs -f | less`, with less not reading
    await new Promise((r) => setTimeout(r, 1500));
    expect(await answered(apiPath)).toBe(true);
    expect(served()).toBeLessThan(8 * 2 ** 20);
  });

  it('without flow control agreed (a keel-init standing in for an older one), requests are served, and an API reader far behind loses its connection instead of growing the guest', async () => {
    const { apiPath } = await channel('old-guest', stalledFirst(), { guestFlow: false });
    const { sock, writer } = flood(apiPath);
    const closed = new Promise<boolean>((r) => {
      sock.once('close', () => r(true));
      setTimeout(() => r(false), 10_000);
    });
    expect(await closed).toBe(true);
    expect(writer.sent()).toBeLessThan(64 * 2 ** 20);
    expect(await answered(apiPath)).toBe(true);
  });

  it('a newer keel run holds no more for a client that does not read than its limit, when an older keel-init grants no credit', async () => {
    let served = () => 0;
    let n = 0;
    const api = createServer((s) => {
      s.on('error', () => undefined);
      if (n++ === 0) served = floodWriter(s, Buffer.alloc(64 * 1024, 1), 256 * 2 ** 20).sent;
      else s.on('data', () => s.write('pong'));
    });
    const { apiPath } = await channel('old-guest-out', api, { guestFlow: false });
    const reader = connect(apiPath);
    closers.push(() => reader.destroy());
    reader.on('error', () => undefined);
    reader.write('GET');
    reader.pause(); // never reads: without credit, the guest sends all the API gives it
    await new Promise((r) => setTimeout(r, 3000));
    // keel run's limit (4 MiB), and what the kernel's socket buffers hold on the way: then the connection is closed.
    expect(served()).toBeLessThan(12 * 2 ** 20);
    expect(await answered(apiPath)).toBe(true);
  });

  it('a newer keel-init sends an older keel run no CREDIT frame, which it would take for a broken stream', async () => {
    const types = new Set<number>();
    const { apiPath } = await channel('old-host', stalledFirst(), { hostFlow: false, fromGuest: (f) => types.add(f.type) });
    // Enough data the other way that a guest granting credit would have: several windows.
    const quiet = connect(apiPath);
    closers.push(() => quiet.destroy());
    quiet.on('data', () => undefined);
    const second = connect(apiPath);
    closers.push(() => second.destroy());
    let got = 0;
    second.on('data', (d: Buffer) => (got += d.length));
    for (let i = 0; i < 40; i++) second.write(Buffer.alloc(32 * 1024, 1));
    await new Promise((r) => setTimeout(r, 1000));
    expect(got).toBeGreaterThan(0);
    expect(types.has(FRAME_CREDIT)).toBe(false);
  });
});

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

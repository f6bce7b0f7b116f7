// A real ControlApi on a temporary socket, without keel-init: what a slow
// event follower is told, and the connection cap, through real sockets.
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { connectionCap, ControlApi } from './server.js';
import type { BootReport } from './wire.js';

let dir: string;
let api: ControlApi | undefined;
const sockets: Socket[] = [];
const servers: Server[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-api-'));
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  api?.close();
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const REPORT = { startedAt: '', mode: 'namespace', stages: [], onboot: [] } as unknown as BootReport;

async function start(bus: EventBus, maxConnections?: number, socketCheckMs?: number): Promise<string> {
  api = new ControlApi({ bus, supervisor: () => undefined, bootReport: () => REPORT, power: () => {}, ...(maxConnections ? { maxConnections } : {}), ...(socketCheckMs ? { socketCheckMs } : {}) });
  const path = join(dir, 'keel.sock');
  await api.listen(path);
  return path;
}

function raw(path: string): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect(path);
  sockets.push(socket);
  let got = '';
  socket.on('data', (d) => (got += d.toString()));
  socket.on('error', () => undefined);
  return { socket, received: () => got, closed: new Promise((r) => socket.on('close', () => r())) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('a follow stream with nothing to send yet', () => {
  it('answers 200 at once, before its first line, so the client knows the stream is open', async () => {
    const path = await start(new EventBus());
    const f = raw(path);
    f.socket.write('GET /v1/events?follow=1 HTTP/1.1\r\nhost: x\r\n\r\n');
    const deadline = Date.now() + 5000;
    while (!f.received().startsWith('HTTP/1.1 200') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(f.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(f.received()).toMatch(/content-type: application\/x-ndjson/i);
  });
});

describe('an event follower that reads too slowly', () => {
  it('is sent what fits, told which events it lost by their ids, and then gets the rest', async () => {
    const bus = new EventBus();
    const path = await start(bus);
    const f = raw(path);
    f.socket.write('GET /v1/events?follow=1 HTTP/1.1\r\nhost: x\r\n\r\n');
    bus.emit({ kind: 'test.first', message: 'first' });
    while (!f.received().includes('test.first')) await tick();
    f.socket.pause();
    const padding = 'x'.repeat(300);
    for (let i = 0; i < 20_000; i++) {
      bus.emit({ kind: 'test.flood', message: `event ${i}`, padding });
      if (i % 500 === 0) await tick(); // let the socket take what it can
    }
    f.socket.resume();
    await new Promise((r) => setTimeout(r, 200));
    bus.emit({ kind: 'test.last', message: 'last' });
    while (!f.received().includes('test.last')) await tick();

    const events = f.received().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { kind: string; id?: number; from?: number; to?: number; message: string });
    const lost = events.filter((e) => e.kind === 'events.lost');
    expect(lost.length).toBeGreaterThanOrEqual(1);
    expect(lost[0]!.message).toMatch(/^events \d+\.\.\d+ were dropped: this client read more slowly than they came; ask again with since=\d+$/);
    // Every event is either received or inside a range a notice named, in order.
    let next = events.find((e) => e.kind === 'test.first')!.id!;
    for (const e of events) {
      if (e.kind === 'events.lost') {
        expect(e.from).toBe(next);
        next = e.to! + 1;
      } else if (e.id! >= next) {
        expect(e.id).toBe(next);
        next++;
      }
    }
    expect(next).toBe(bus.since(0).at(-1)!.id + 1);
  });
});

describe('the connection cap', () => {
  it('takes at most the cap at once, closes the rest as they come, and says so', async () => {
    const bus = new EventBus();
    const path = await start(bus, 16);
    const held = Array.from({ length: 40 }, () => raw(path));
    // The refused ones are closed at once; the held ones stay until their header timeout.
    await Promise.race([Promise.all(held.slice(16).map((c) => c.closed)), new Promise((r) => setTimeout(r, 3000))]);
    const closed = held.filter((c) => c.socket.destroyed || c.socket.readyState === 'closed').length;
    expect(closed).toBe(24);
    await new Promise((r) => setTimeout(r, 50));
    expect(bus.since(0).find((e) => e.kind === 'api.refused')?.message).toMatch(/^control API: refused \d+ connection\(s\) over the cap of 16 at once$/);
  });

  it('is a quarter of the open-file limit, within 16 and 1024', () => {
    expect([64, 1024, 4096, 20_000, 1 << 20].map(connectionCap)).toEqual([16, 256, 1024, 1024, 1024]);
  });
});

/** One GET over a fresh connection to `path`: its status line, or the connection error's code. */
function statusOf(path: string, target: string): Promise<string> {
  return new Promise((resolve) => {
    const c = raw(path);
    c.socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    c.socket.write(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
    void c.closed.then(() => resolve(c.received().split('\r\n')[0] ?? ''));
  });
}

async function until(f: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (await f()) return true;
  return false;
}

describe('the socket path', () => {
  it('is bound again when the socket is removed, and open connections go on', async () => {
    const bus = new EventBus();
    const path = await start(bus, undefined, 50);
    const follower = raw(path);
    follower.socket.write('GET /v1/events?follow=1 HTTP/1.1\r\nhost: x\r\n\r\n');
    rmSync(path);
    expect(await statusOf(path, '/v1/services')).toBe('ENOENT');
    expect(await until(async () => (await statusOf(path, '/v1/services')) === 'HTTP/1.1 200 OK', 3000)).toBe(true);
    expect(bus.since(0).find((e) => e.kind === 'api.rebound')?.message).toBe(`control API: ${path} was removed; keel listens there again`);
    bus.emit({ kind: 'test.after', message: 'after the rebind' });
    expect(await until(async () => follower.received().includes('after the rebind'), 3000)).toBe(true);
  });

  it('is taken back when another file took its place, its directory made again if it went too', async () => {
    const bus = new EventBus();
    const path = await start(bus, undefined, 50);
    rmSync(path);
    writeFileSync(path, 'not a socket');
    expect(await statusOf(path, '/v1/services')).toBe('ECONNREFUSED');
    expect(await until(async () => (await statusOf(path, '/v1/services')) === 'HTTP/1.1 200 OK', 3000)).toBe(true);
    expect(bus.since(0).find((e) => e.kind === 'api.rebound')?.message).toMatch(/was replaced by another file; keel listens there again$/);
    rmSync(dir, { recursive: true, force: true });
    expect(await until(async () => (await statusOf(path, '/v1/services')) === 'HTTP/1.1 200 OK', 3000)).toBe(true);
  });

  it('says once that a directory took the path, and listens again once it is gone; a dangling symlink is another file', async () => {
    const bus = new EventBus();
    const path = await start(bus, undefined, 50);
    rmSync(path);
    mkdirSync(path);
    await new Promise((r) => setTimeout(r, 400));
    const errors = bus.since(0).filter((e) => e.kind === 'api.error');
    expect(errors.map((e) => e.message)).toEqual([`control API: ${path} was replaced by another file, and keel could not listen there again (a directory is there now; remove it); it tries again every 0.05 s`]);
    rmSync(path, { recursive: true });
    expect(await until(async () => (await statusOf(path, '/v1/services')) === 'HTTP/1.1 200 OK', 3000)).toBe(true);
    rmSync(path);
    symlinkSync(join(dir, 'nowhere'), path);
    expect(await until(async () => bus.since(0).filter((e) => e.kind === 'api.rebound').length === 2, 3000)).toBe(true);
    expect(bus.since(0).filter((e) => e.kind === 'api.rebound').at(-1)?.message).toMatch(/was replaced by another file; keel listens there again$/);
  });

  it('is left to another server that answers there, said once, and taken back once that server is gone', async () => {
    const bus = new EventBus();
    const path = await start(bus, undefined, 50);
    const other = await socketOver(path, 'other.sock');
    const theirs = lstatSync(path).ino;
    await new Promise((r) => setTimeout(r, 400)); // several checks
    expect(lstatSync(path).ino).toBe(theirs);
    expect(bus.since(0).filter((e) => e.kind === 'api.taken').map((e) => e.message)).toEqual([`control API: ${path} is another server's socket now, and it answers; keel leaves it to that server and listens there again once it is gone`]);
    expect(bus.since(0).filter((e) => e.kind === 'api.rebound')).toEqual([]);
    rmSync(path);
    await new Promise((r) => other.close(r));
    expect(await until(async () => (await statusOf(path, '/v1/services')) === 'HTTP/1.1 200 OK', 3000)).toBe(true);
    expect(bus.since(0).find((e) => e.kind === 'api.rebound')?.message).toBe(`control API: ${path} was removed; keel listens there again`);
  });

  it('is known by the socket keel bound, not by one another process put there before its listen callback ran', async () => {
    const bus = new EventBus();
    api = new ControlApi({ bus, supervisor: () => undefined, bootReport: () => REPORT, power: () => {}, socketCheckMs: 50 });
    const path = join(dir, 'keel.sock');
    const listening = api.listen(path); // bound now; the callback comes once the loop turns, as after boot's stages
    const beside = join(dir, 'other.sock');
    const other = createServer((s) => s.end());
    servers.push(other);
    other.listen(beside); // bound at once too
    renameSync(beside, path);
    await listening;
    expect(await until(async () => bus.since(0).some((e) => e.kind === 'api.taken'), 3000)).toBe(true);
  });

  it('is taken back from a socket nobody listens on (its server ended without removing it)', async () => {
    const bus = new EventBus();
    const path = await start(bus, undefined, 50);
    // Node removes a socket by the name it bound as its server closes: bound elsewhere and moved here, it stays, dead.
    const dead = await socketOver(path, 'dead.sock');
    await new Promise((r) => dead.close(r));
    expect(await statusOf(path, '/v1/services')).toBe('ECONNREFUSED');
    expect(await until(async () => (await statusOf(path, '/v1/services')) === 'HTTP/1.1 200 OK', 3000)).toBe(true);
    expect(bus.since(0).find((e) => e.kind === 'api.rebound')?.message).toBe(`control API: ${path} was replaced by a socket nobody listens on; keel listens there again`);
    expect(bus.since(0).filter((e) => e.kind === 'api.taken')).toEqual([]);
  });
});

/** A plain server of the test's own on the unix socket `path`. */
async function listenAt(path: string): Promise<Server> {
  const server = createServer((s) => s.end());
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

/** Another server's socket at `path`: bound beside it and renamed over it, so the path is never empty meanwhile. */
async function socketOver(path: string, name: string): Promise<Server> {
  const beside = join(dirname(path), name);
  const server = await listenAt(beside);
  renameSync(beside, path);
  return server;
}

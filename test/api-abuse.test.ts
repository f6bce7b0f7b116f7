// The control API under abuse, with real sockets against keel-init as PID 1
// of a PID namespace: bodies over the limit, bodies that never come, slow
// and idle clients, a flood of held connections on a machine with a low
// open-file limit, and a follower that stops reading.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceDetail } from '../api/wire.js';
import { DIST, eventually, startKeel, type KeelNs } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';

let fixtures: string;
let rootfs: string;
let keel: KeelNs | undefined;
const open: Socket[] = [];

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-api-abuse-'));
  rootfs = busyboxRootfs(join(fixtures, 'busybox'));
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
  keel?.cleanup();
  keel = undefined;
});

const GRACEFUL = 'trap "exit 0" TERM; while :; do sleep 0.1; done';
const sock = (k: KeelNs) => join(k.dir, 'state', 'keel.sock');

function cli(k: KeelNs, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', env: { ...process.env, KEEL_SOCKET: sock(k) }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A raw connection: what it received, and when it closed. */
function raw(path: string): { socket: Socket; received: () => string; closed: Promise<string> } {
  const socket = connect(path);
  open.push(socket);
  let got = '';
  socket.on('data', (d) => (got += d.toString()));
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(got));
    socket.on('error', () => undefined);
  });
  return { socket, received: () => got, closed };
}

async function shutdown(k: KeelNs): Promise<void> {
  k.signal('SIGTERM');
  expect(await k.exited).toEqual({ code: 0, signal: null });
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

describe('request bodies and slow clients', () => {
  it('answers a chunked body over the limit with 413 (not a reset), and times out a body, headers or a request that never come', async () => {
    keel = startKeel('services:\n' + shellEntry(rootfs, 'web', GRACEFUL));
    await keel.waitFor(/all 1 service\(s\) ready/);
    const path = sock(keel);

    // 2 MiB in 8 KiB chunks against a 64 KiB limit: the 413 comes whole, and the connection is not reset under it.
    const chunked = raw(path);
    chunked.socket.write('POST /v1/services/web/stop HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
    const chunk = 'x'.repeat(8192);
    for (let i = 0; i < 256; i++) chunked.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    chunked.socket.end('0\r\n\r\n');
    const answer = await chunked.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(answer).toContain('{"error":"request body over 65536 bytes"}');
    expect(chunked.socket.errored).toBeNull(); // ended, not reset

    // Promised and never sent, or sent half; headers that never end; nothing at all: each is answered 408 and closed.
    const promised = raw(path);
    promised.socket.write('POST /v1/services/web/stop HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"a":');
    const headers = raw(path);
    headers.socket.write('GET /v1/services HTTP/1.1\r\nhost: x\r\n');
    const silent = raw(path);
    for (const c of [promised, headers, silent]) expect(await c.closed).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);

    expect(cli(keel, 'inspect', 'web').stdout).toMatch(/"state": "ready"/); // the stop never ran
    expect(keel.output()).not.toContain('contained an');
    await shutdown(keel);
  }, 120_000);
});

describe('a flood of connections', () => {
  it('with 2,000 connections held and a limit of 1,024 files, keel still starts and restarts a service, and answers keel ps once they are gone', async () => {
    // A service that ends every half second and is restarted at once: each restart opens pipes and runs runc.
    keel = startKeel('services:\n' + shellEntry(rootfs, 'flaky', 'sleep 0.5; exit 1', 'restart: always\nbackoff: {initial: 10ms, max: 10ms}\nstartLimit: {burst: 1000, interval: 1s}'), {}, { nofile: 1024 });
    await keel.waitFor(/service flaky/);
    const path = sock(keel);
    await eventually(() => cli(keel!, 'ps').status === 0, 10_000, 'the API');
    const pid = keel.hostPid();
    const floodStart = Date.now();
    const held = Array.from({ length: 2000 }, () => raw(path));
    // Held long enough for several restarts, and under the API's 10 s header timeout.
    await new Promise((r) => setTimeout(r, 6000));
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const floodEnd = Date.now();
    for (const c of held) c.socket.destroy();

    // At most 256 connections (a quarter of the limit) were taken; the rest were closed as they came.
    expect(fds).toBeLessThan(512);
    await eventually(() => cli(keel!, 'ps').status === 0, 20_000, 'keel ps once the connections are gone');
    expect(cli(keel, 'ps').stdout).toMatch(/^flaky +\S+/m);
    const log = readFileSync(join(keel.dir, 'state', 'keel.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; time: string; to?: string; msg: string });
    const startsDuringFlood = log.filter((e) => e.kind === 'service.state' && e.to === 'running' && Date.parse(e.time) > floodStart && Date.parse(e.time) < floodEnd);
    expect(startsDuringFlood.length).toBeGreaterThanOrEqual(3);
    expect(log.filter((e) => /EMFILE|too many open files/i.test(e.msg))).toEqual([]);
    expect(log.some((e) => e.kind === 'api.refused' && /over the cap of 256 at once/.test(e.msg))).toBe(true);
    expect((JSON.parse(cli(keel, 'inspect', 'flaky').stdout) as ServiceDetail).restarts).toBeGreaterThanOrEqual(3);
    await shutdown(keel);
  }, 120_000);
});

describe('the open-file limit', () => {
  it('is raised from soft to hard at start', async () => {
    keel = startKeel('', {}, { nofile: [256, 2048] });
    await keel.waitFor(/boot complete/);
    expect(readFileSync(`/proc/${keel.hostPid()}/limits`, 'utf8')).toMatch(/^Max open files +2048 +2048 +files/m);
    await shutdown(keel);
  });
});

describe('follow streams', () => {
  it('a follower that stops reading costs keel a bounded buffer, stays open past every request timeout, and is told how many lines it lost', async () => {
    // About 200-byte lines, as fast as a shell writes them.
    const chatty = 'i=0; while :; do i=$((i+1)); echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; done';
    keel = startKeel('services:\n' + shellEntry(rootfs, 'chatty', chatty, 'stopSignal: SIGKILL'));
    await keel.waitFor(/all 1 service\(s\) ready/);
    const pid = keel.hostPid();
    const follower = raw(sock(keel));
    follower.socket.write('GET /v1/services/chatty/logs?follow=1 HTTP/1.1\r\nhost: x\r\n\r\n');
    await eventually(() => follower.received().includes('line '), 10_000, 'the first lines');
    follower.socket.pause(); // reads nothing more: the kernel's buffer fills, then keel's
    await new Promise((r) => setTimeout(r, 3000));
    const before = rssKiB(pid);
    const firstLines = Number(/#\d+ line (\d+)/.exec(cli(keel, 'logs', '--tail', '1', 'chatty').stdout)?.[1]);
    // Past the 15 s request timeout and the 10 s header timeout.
    await new Promise((r) => setTimeout(r, 20_000));
    const after = rssKiB(pid);
    const lastLines = Number(/#\d+ line (\d+)/.exec(cli(keel, 'logs', '--tail', '1', 'chatty').stdout)?.[1]);
    expect(lastLines - firstLines).toBeGreaterThan(100_000); // 20 MB or more went by that the follower did not take
    expect(after - before).toBeLessThan(48 * 1024);
    follower.socket.resume();
    await eventually(() => /Z keel \d+ line\(s\) dropped here: this client read more slowly than they came\r?\n/.test(follower.received()), 10_000, 'the notice of dropped lines');
    const at = follower.received().length;
    await eventually(() => follower.received().length > at + 10_000, 10_000, 'more lines after the notice');
    expect(follower.socket.destroyed).toBe(false);
    await shutdown(keel);
  }, 120_000);
});

// Supervised services with real runc containers, keel-init as PID 1 of a
// PID namespace, driven and observed through the real keel CLI and API.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, streamLines } from '../api/client.js';
import type { ExitRecord, ServiceDetail } from '../api/wire.js';
import { DIST, eventually, inspectService as inspect, keelCli as cli, startKeel, type KeelNs } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry, staticTool } from './helpers/rootfs.js';

let fixtures: string;
let rootfs: string;
let keel: KeelNs | undefined;

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-svc-'));
  rootfs = busyboxRootfs(join(fixtures, 'busybox'));
  // A static sd_notify sender, so the busybox root filesystem can speak the protocol.
  staticTool(rootfs, 'notify', 'notify/notify.c');
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

/** A service that ends cleanly on SIGTERM (a shell as a namespace's PID 1 otherwise ignores it). */
const GRACEFUL = 'trap "exit 0" TERM; while :; do sleep 0.1; done';

const svc = (name: string, script: string, extra = ''): string => shellEntry(rootfs, name, script, extra);

const sock = (k: KeelNs) => join(k.dir, 'state', 'keel.sock');

type Exit = ExitRecord;
type Inspect = ServiceDetail;

async function until(k: KeelNs, name: string, check: (s: Inspect) => boolean, ms = 45_000): Promise<Inspect> {
  let last: Inspect | undefined;
  await eventually(() => check((last = inspect(k, name))), ms, () => `${name} to get there (last: ${JSON.stringify(last && { state: last.state, reason: last.reason, restarts: last.restarts })})`);
  return last!;
}

async function shutdown(k: KeelNs): Promise<string> {
  k.signal('SIGTERM');
  expect(await k.exited).toEqual({ code: 0, signal: null });
  expect(k.runcContainers()).toEqual([]);
  return k.output();
}

function stateEvents(k: KeelNs): Array<{ service: string; to: string; time: number; id: number; code?: number | null; signal?: string | null }> {
  return readFileSync(join(k.dir, 'state', 'keel.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; service: string; to: string; time: string; id: number; code?: number | null; signal?: string | null })
    .filter((e) => e.kind === 'service.state')
    .map((e) => ({ service: e.service, to: e.to, time: Date.parse(e.time), id: e.id, code: e.code, signal: e.signal }));
}

describe('restart policies', () => {
  it('follow Docker: no, on-failure[:N], always, for exit 0, exit 1, a signal and an OOM kill', async () => {
    const fast = 'backoff: {initial: 50ms, jitter: 0}\nstartLimit: {burst: 50, interval: 1m}';
    keel = startKeel(
      'services:\n' +
        svc('no-fail', 'exit 1', `restart: "no"\n${fast}`) +
        svc('onfail-ok', 'exit 0', `restart: on-failure\n${fast}`) +
        svc('onfail-2', 'exit 1', `restart: on-failure:2\n${fast}`) +
        svc('always-ok', 'sleep 0.2; exit 0', `restart: always\n${fast}`) +
        svc('killed', GRACEFUL, `restart: on-failure\n${fast}`) +
        svc('oom', 'exec dd if=/dev/zero of=/dev/null bs=64M count=4', `restart: on-failure:1\n${fast}\nresources:\n  memory: {limit: 16m, swap: 16m}`),
    );
    await keel.waitFor(/boot complete/);
    expect((await until(keel, 'no-fail', (s) => s.state === 'failed')).restarts).toBe(0);
    expect((await until(keel, 'onfail-ok', (s) => s.state === 'completed')).restarts).toBe(0);
    const gaveUp = await until(keel, 'onfail-2', (s) => s.state === 'failed');
    expect(gaveUp.restarts).toBe(2);
    expect(gaveUp.reason).toContain('gave up after 2 restart(s)');
    expect(gaveUp.exits.map((e) => e.code)).toEqual([1, 1, 1]);
    await until(keel, 'always-ok', (s) => s.restarts >= 2);
    // A signal from outside the container is a failure: on-failure restarts it.
    const k = await until(keel, 'killed', (s) => s.state === 'ready' && s.pid !== undefined);
    keel.exec(`kill -9 ${k.pid}`);
    const afterKill = await until(keel, 'killed', (s) => s.restarts === 1 && s.state === 'ready');
    expect(afterKill.exits[0]).toMatchObject({ code: null, signal: 'SIGKILL', oomKilled: false });
    const oom = await until(keel, 'oom', (s) => s.state === 'failed');
    expect(oom.exits.map((e) => e.oomKilled)).toEqual([true, true]);
    await keel.waitFor(/service oom was killed by the OOM killer \(SIGKILL\)/);
    await shutdown(keel);
  });

  it('restart or not, for every policy and every way of ending: exit 0, exit 1, a signal, an OOM kill', async () => {
    const policies = ['no', 'on-failure', 'always', 'unless-stopped'] as const;
    const endings: Record<string, [script: string, extra: string]> = {
      ok: ['sleep 0.3; exit 0', ''],
      fail: ['sleep 0.3; exit 1', ''],
      sig: [GRACEFUL, ''],
      oom: ['sleep 0.3; exec dd if=/dev/zero of=/dev/null bs=64M count=4', 'resources:\n  memory: {limit: 16m, swap: 16m}'],
    };
    let m = 'services:\n';
    for (const p of policies) {
      for (const [end, [script, extra]] of Object.entries(endings)) {
        m += svc(`${p}-${end}`, script, `restart: "${p}"\nbackoff: {initial: 100ms, jitter: 0}\nstartLimit: {burst: 100, interval: 1m}\nstopSignal: SIGKILL\n${extra}`);
      }
    }
    keel = startKeel(m);
    await keel.waitFor(/boot complete/);
    for (const p of policies) {
      const s = await until(keel, `${p}-sig`, (x) => x.pid !== undefined && x.attempt === 1);
      keel.exec(`kill -9 ${s.pid}`);
    }
    const restartsWanted: Record<string, boolean> = {};
    for (const p of policies) for (const end of Object.keys(endings)) restartsWanted[`${p}-${end}`] = p === 'always' || p === 'unless-stopped' || (p === 'on-failure' && end !== 'ok');
    for (const [name, again] of Object.entries(restartsWanted)) {
      const s = again ? await until(keel, name, (x) => x.restarts >= 1) : await until(keel, name, (x) => x.state === 'completed' || x.state === 'failed');
      const first = s.exits[0]!;
      const end = name.slice(name.lastIndexOf('-') + 1);
      expect(first, name).toMatchObject(end === 'ok' ? { code: 0 } : end === 'fail' ? { code: 1 } : end === 'sig' ? { signal: 'SIGKILL', oomKilled: false } : { signal: 'SIGKILL', oomKilled: true });
      if (!again) {
        expect(s.restarts, name).toBe(0);
        expect(s.state, name).toBe(end === 'ok' ? 'completed' : 'failed');
      }
    }
    await shutdown(keel);
  }, 120_000);

  it('restarts a service whose health check fails when restartOnUnhealthy is set', async () => {
    // Healthy for 3 s, then not: each new attempt must pass a probe (a runc exec) within those 3 s, which took over 1 s at load 5.
    keel = startKeel(
      'services:\n' +
        svc('sick', `touch /tmp/ok; (sleep 3; rm /tmp/ok) & ${GRACEFUL}`, 'restartOnUnhealthy: true\nready: {exec: [test, -f, /tmp/ok], interval: 100ms, retries: 2}\nbackoff: {initial: 100ms}') +
        svc('sick-kept', `touch /tmp/ok; (sleep 3; rm /tmp/ok) & ${GRACEFUL}`, 'ready: {exec: [test, -f, /tmp/ok], interval: 100ms, retries: 2}'),
    );
    await keel.waitFor(/service sick is unhealthy/);
    await until(keel, 'sick', (s) => s.restarts >= 1 && s.state === 'ready');
    await keel.waitFor(/service sick-kept is unhealthy/);
    expect(inspect(keel, 'sick-kept')).toMatchObject({ restarts: 0, state: 'ready' }); // Docker's default: report, do not restart
    await shutdown(keel);
  });

  it('backs off 200, 400, 800 ms and caps at max; a stable run resets the delay', async () => {
    const limit = 'startLimit: {burst: 50, interval: 1m}';
    keel = startKeel(
      'services:\n' +
        svc('growing', 'exit 1', `backoff: {initial: 200ms, factor: 2, max: 1s, jitter: 0}\n${limit}`) +
        svc('stable', 'sleep 0.6; exit 1', `backoff: {initial: 200ms, factor: 2, max: 1s, jitter: 0, resetAfter: 500ms}\n${limit}`),
    );
    await keel.waitFor(/boot complete/);
    const g = await until(keel, 'growing', (s) => s.exits.length >= 5, 30_000);
    const st = await until(keel, 'stable', (s) => s.exits.length >= 4, 30_000);
    await shutdown(keel);
    // The delay from each exit to the next start, from keel's own exit records.
    const gaps = (exits: Exit[]) => exits.slice(1).map((e, i) => e.startedAt - exits[i]!.exitedAt);
    const want = [200, 400, 800, 1000];
    gaps(g.exits).slice(0, 4).forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(want[i]! - 5);
      expect(gap).toBeLessThan(want[i]! + 400); // generous: these machines are shared
    });
    // Each run of "stable" lasts past resetAfter, so every delay is the initial one again.
    for (const gap of gaps(st.exits)) {
      expect(gap).toBeGreaterThanOrEqual(195);
      expect(gap).toBeLessThan(600);
    }
  });

  it('reaches failed at the start limit, and keel reset brings it back', async () => {
    keel = startKeel('services:\n' + svc('loop', 'exit 1', 'backoff: {initial: 20ms, jitter: 0}\nstartLimit: {burst: 3, interval: 1m}'));
    await keel.waitFor(/boot complete/);
    const failed = await until(keel, 'loop', (s) => s.state === 'failed');
    expect(failed.attempt).toBe(3);
    expect(failed.reason).toMatch(/start limit reached: 3 starts within 60000 ms/);
    expect(cli(keel, 'ps').stdout).toMatch(/loop +failed +- +2 +- +start limit reached/);
    expect(cli(keel, 'reset', 'loop').status).toBe(0);
    const again = await until(keel, 'loop', (s) => s.state === 'failed' && s.attempt === 6);
    expect(again.exits.length).toBe(6);
    // keel start is a fresh chance too.
    expect(cli(keel, 'start', 'loop').status).toBe(0);
    await until(keel, 'loop', (s) => s.state === 'failed' && s.attempt === 9);
    await shutdown(keel);
  });
});

describe('dependencies', () => {
  it('start a chain and a diamond in order, gated on exec readiness', async () => {
    const readyAfter = (ms: number) => `sleep ${ms / 1000}; touch /tmp/ready; ${GRACEFUL}`;
    const probe = 'ready: {exec: [test, -f, /tmp/ready], interval: 100ms}';
    keel = startKeel(
      'services:\n' +
        svc('c', GRACEFUL, 'dependsOn: [b]') +
        svc('b', readyAfter(300), `dependsOn: [a]\n${probe}`) +
        svc('a', readyAfter(300), probe) +
        svc('top', readyAfter(300), probe) +
        svc('left', readyAfter(200), `dependsOn: [top]\n${probe}`) +
        svc('right', readyAfter(500), `dependsOn: [top]\n${probe}`) +
        svc('bottom', GRACEFUL, 'dependsOn: [left, {name: right, condition: ready}]'),
    );
    await keel.waitFor(/all 7 service\(s\) ready/, 30_000);
    const ev = stateEvents(keel);
    const at = (name: string, to: string) => ev.find((e) => e.service === name && e.to === to)!.id;
    expect(at('a', 'ready')).toBeLessThan(at('b', 'starting'));
    expect(at('b', 'ready')).toBeLessThan(at('c', 'starting'));
    expect(at('top', 'ready')).toBeLessThan(Math.min(at('left', 'starting'), at('right', 'starting')));
    expect(Math.max(at('left', 'ready'), at('right', 'ready'))).toBeLessThan(at('bottom', 'starting'));
    // Independent branches run in parallel: right starts before left is ready, not after it.
    expect(at('right', 'starting')).toBeLessThan(at('left', 'ready'));
    await shutdown(keel);
  });

  it('refuses a cycle at load, naming it', async () => {
    keel = startKeel('services:\n' + svc('x', 'true', 'dependsOn: [y]') + svc('y', 'true', 'dependsOn: [z]') + svc('z', 'true', 'dependsOn: [x]'));
    await keel.waitFor(/services: dependency cycle: x -> y -> z -> x/);
  });
});

describe('the boot milestone', () => {
  it('comes once each service has been ready, even while a crash loop is in backoff, and names those never ready', async () => {
    keel = startKeel(
      'services:\n' +
        svc('steady', GRACEFUL) +
        svc('loop', 'exit 1', 'restart: always\nbackoff: {initial: 2s, factor: 1, max: 2s}') +
        svc('broken', 'exit 3', 'restart: "no"\nready:\n  exec: [/bin/false]\n  interval: 100ms'),
    );
    await keel.waitFor(/services settled \d+ ms after keel started: 2 of 3 ready; never ready: broken/, 30_000);
    // broken never became ready, so the old rule (all ready at one instant) could never fire; loop goes on crash-looping.
    await keel.waitFor(/service loop exited 1 after \d+ ms; restarting in/, 10_000);
    expect(keel.output().match(/services settled|service\(s\) ready/g)).toHaveLength(1);
    await shutdown(keel);
  });
});

describe('sd_notify', () => {
  it('READY=1 gates dependents, STATUS= is kept, and a silent watchdog restarts the service', async () => {
    keel = startKeel(
      'services:\n' +
        svc('notifier', `sleep 0.5; notify READY=1 STATUS=serving; ${GRACEFUL}`, 'notify: true') +
        svc('after', GRACEFUL, 'dependsOn: [notifier]') +
        svc('pinger', 'notify READY=1; for i in 1 2 3; do notify WATCHDOG=1; sleep 0.2; done; while :; do sleep 0.1; done', 'notify: true\nwatchdogSec: 600ms\nstopTimeout: 200ms\nbackoff: {initial: 100ms}\nstartLimit: {burst: 20, interval: 1m}'),
    );
    await keel.waitFor(/service notifier ready \(READY=1\) after \d+ ms: serving/);
    await keel.waitFor(/service after running/); // its start is what the order below is about
    const ev = stateEvents(keel);
    const at = (name: string, to: string) => ev.find((e) => e.service === name && e.to === to)!.id;
    expect(at('notifier', 'ready')).toBeLessThan(at('after', 'starting'));
    expect(inspect(keel, 'notifier')).toMatchObject({ state: 'ready' });
    expect(JSON.parse(cli(keel, 'inspect', 'notifier').stdout).status).toBe('serving');
    await keel.waitFor(/service pinger: no WATCHDOG=1 for 600 ms: SIGABRT, then SIGKILL after 200 ms/, 10_000);
    await until(keel, 'pinger', (s) => s.restarts >= 1);
    // and it came back: a second READY=1, from the restarted container
    await keel.waitFor(/service pinger ready \(READY=1\)[\s\S]*service pinger ready \(READY=1\)/, 20_000);
    await shutdown(keel);
  });
});

describe('shutdown', () => {
  it('stops 10 services in reverse dependency order, SIGKILLs the one that ignores SIGTERM, and leaves nothing', async () => {
    let m = 'services:\n';
    for (let i = 0; i < 10; i++) {
      // Each says when its trap is set: a container's PID 1 without a handler never gets SIGTERM at all.
      const script = i === 5 ? 'trap "" TERM; echo armed; while :; do sleep 0.1; done' : `trap "exit 0" TERM; echo armed; while :; do sleep 0.1; done`;
      // Generous for the graceful ones (a loaded machine can take a while to run a trap), short for the one that ignores SIGTERM.
      m += svc(`s${i}`, script, `stopTimeout: ${i === 5 ? '700ms' : '10s'}${i > 0 ? `\ndependsOn: [{name: s${i - 1}, condition: started}]` : ''}`);
    }
    keel = startKeel(m);
    await keel.waitFor(/all 10 service\(s\) ready/, 30_000);
    await eventually(() => Array.from({ length: 10 }, (_, i) => cli(keel!, 'logs', `s${i}`).stdout).every((l) => l.includes('armed')), 30_000, 'every service to set its trap');
    const out = await shutdown(keel);
    const stopped = stateEvents(keel).filter((e) => e.to === 'stopped');
    expect(stopped.map((e) => e.service)).toEqual(['s9', 's8', 's7', 's6', 's5', 's4', 's3', 's2', 's1', 's0']);
    expect(out).toMatch(/service s5 still running 700 ms after SIGTERM: SIGKILL to every process in it/);
    expect(out).toMatch(/service s5 was killed by SIGKILL/);
    expect(out).not.toMatch(/service s[0-46-9] still running/);
    // The graceful ones ended on SIGTERM themselves (exit 0), none needed SIGKILL.
    for (const s of stopped) expect([s.service, s.code, s.signal]).toEqual(s.service === 's5' ? ['s5', null, 'SIGKILL'] : [s.service, 0, null]);
    expect(out).toMatch(/poweroff now/);
  });
});

describe('scale and isolation', () => {
  it('supervises 100 services while one crash-loops, without delaying them', async () => {
    let m = 'services:\n' + svc('crasher', 'exit 1', 'backoff: {initial: 50ms, jitter: 0}\nstartLimit: {burst: 1000, interval: 1m}');
    for (let i = 0; i < 100; i++) m += svc(`idle${i}`, 'exec sleep 100000', 'stopSignal: SIGKILL');
    keel = startKeel(m);
    await keel.waitFor(/boot complete/);
    await eventually(() => JSON.parse(cli(keel!, 'ps', '--json').stdout).filter((s: Inspect) => s.state === 'ready').length === 100, 400_000, '100 services ready');
    // It kept crashing all along, and goes on doing so.
    const before = inspect(keel, 'crasher').restarts;
    expect(before).toBeGreaterThanOrEqual(1);
    await until(keel, 'crasher', (s) => s.restarts > before + 2);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${keel.hostPid()}/status`, 'utf8'))![1]) / 1024;
    console.log(`keel-init RSS with 101 services: ${rss.toFixed(1)} MiB`);
    expect(keel.others().filter((p) => p.state === 'Z')).toEqual([]);
    await shutdown(keel);
  }, 600_000);
});

describe('control API and CLI', () => {
  it('round-trips every verb', async () => {
    keel = startKeel('services:\n' + svc('web', `echo hello from web; ${GRACEFUL}`) + svc('chatty', 'i=0; while :; do i=$((i+1)); echo line $i; sleep 0.1; done', 'stopSignal: SIGKILL'));
    await keel.waitFor(/all 2 service\(s\) ready/);
    expect(cli(keel, 'ps').stdout).toMatch(/^NAME +STATE +PID +RESTARTS +UP +INFO\nweb +ready +\d+ +0 /);
    expect(JSON.parse(cli(keel, 'inspect', 'web').stdout).state).toBe('ready');
    await eventually(() => cli(keel!, 'logs', 'web').stdout.includes('hello from web'), 5000, 'the log line');
    expect(cli(keel, 'logs', 'web').stdout).toMatch(/^\S+Z stdout #1 hello from web$/m);

    // logs -f follows new lines
    const seen: string[] = [];
    const f = streamLines(sock(keel), '/v1/services/chatty/logs?follow=1&tail=1', (l) => seen.push(l));
    await eventually(() => seen.length >= 4, 5000, 'followed lines');
    f.stop();
    const nums = seen.map((l) => Number(/line (\d+)$/.exec(l)?.[1]));
    expect(nums.slice(1)).toEqual(nums.slice(1).map((_, i) => nums[1]! + i)); // consecutive: none lost

    expect(cli(keel, 'restart', 'web', '--wait').status).toBe(0);
    expect(inspect(keel, 'web')).toMatchObject({ state: 'ready', attempt: 2 });
    expect(cli(keel, 'logs', '--previous', 'web').stdout).toMatch(/#1 hello from web/);
    expect(cli(keel, 'stop', 'web', '--wait').status).toBe(0);
    expect(inspect(keel, 'web').state).toBe('stopped');
    expect(cli(keel, 'start', 'web', '--wait').status).toBe(0);
    expect(inspect(keel, 'web').state).toMatch(/running|ready/);
    expect(cli(keel, 'reset', 'web').status).toBe(0);
    expect(cli(keel, 'stats').stdout).toMatch(/^NAME +MEM +PEAK +CPU +THROTTLED +PIDS\n/);
    expect(JSON.parse(cli(keel, 'stats', '--json').stdout).chatty.pids).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(cli(keel, 'boot-report').stdout)).toMatchObject({ mode: 'namespace', servicesReadyMs: expect.any(Number), cpuAtReady: { keelInitMs: expect.any(Number) } });

    // Events resume from an id without loss or repeats.
    const all = cli(keel, 'events', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    const mid = all[Math.floor(all.length / 2)]!.id;
    const rest = cli(keel, 'events', '--json', '--since', String(mid)).stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    expect(rest[0]!.id).toBe(mid + 1);
    expect(rest.map((e) => e.id)).toEqual(rest.map((_, i) => mid + 1 + i));

    // Errors as a CLI user expects them.
    const missing = cli(keel, 'logs', 'nope');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no service named "nope"');
    expect(cli(keel, 'ps', 'extra').status).toBe(2);
    const away = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'ps', '--socket', '/nonexistent.sock'], { encoding: 'utf8' });
    expect(away.status).toBe(3);
    expect(away.stderr).toMatch(/cannot reach keel at \/nonexistent\.sock: no socket there/);

    expect(cli(keel, 'poweroff').status).toBe(0);
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    expect(keel.output()).toContain('keel poweroff: poweroff');
  });

  it('answers bad requests with HTTP errors and stays up: garbage, huge bodies, bad JSON, dropped streams', async () => {
    keel = startKeel('services:\n' + svc('web', GRACEFUL));
    await keel.waitFor(/all 1 service\(s\) ready/);
    const path = sock(keel);
    expect((await call(path, 'GET', '/v1/services/nope')).status).toBe(404);
    expect((await call(path, 'GET', '/v1/services/web/restart')).status).toBe(405);
    expect((await call(path, 'GET', '/elsewhere')).status).toBe(404);
    expect((await call(path, 'GET', '/v1/events?since=-3')).status).toBe(400);
    // Raw bytes: random garbage, a malformed JSON body, and a huge body.
    const raw = (data: Buffer | string) =>
      new Promise<string>((resolve) => {
        const s = connect(path);
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
        s.write(data);
        setTimeout(() => s.end(), 200);
      });
    for (let i = 0; i < 50; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 2000) }, () => Math.floor(Math.random() * 256)));
      const reply = await raw(junk);
      if (reply) expect(reply).toMatch(/^HTTP\/1\.1 4\d\d/);
    }
    expect(await raw('POST /v1/services/web/stop HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\n{nope')).toMatch(/^HTTP\/1\.1 400/);
    const huge = 'x'.repeat(1 << 20);
    expect(await raw(`POST /v1/services/web/stop HTTP/1.1\r\nhost: x\r\ncontent-length: ${huge.length}\r\n\r\n${huge}`)).toMatch(/^HTTP\/1\.1 413/);
    // Clients that go away in the middle of a stream.
    for (let i = 0; i < 30; i++) {
      const s = streamLines(path, i % 2 ? '/v1/events?follow=1' : '/v1/services/web/logs?follow=1', () => {});
      setTimeout(s.stop, 5);
      await s.done.catch(() => undefined);
    }
    expect(inspect(keel, 'web').state).toBe('ready'); // nothing disturbed it
    expect(keel.output()).not.toContain('contained an uncaught exception');
    await shutdown(keel);
  });
});

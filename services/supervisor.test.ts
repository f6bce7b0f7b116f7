// The supervisor's whole behaviour without root or runc: services driven by
// an in-memory engine (test/helpers/fake-engine.ts) and a clock moved by
// hand. The same behaviour with real runc containers is in test/services.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EventBus, type KeelEvent } from '../events/bus.js';
import { parseManifest } from '../model/index.js';
import { exited, FakeEngine, killed, type FakeRun } from '../test/helpers/fake-engine.js';
import { ManualClock, settle } from '../test/helpers/manual-clock.js';
import type { NotifyHub } from './notify.js';
import { RESTART_TABLE } from './policy.js';
import { TRANSITIONS, type ServiceState } from './states.js';
import { Supervisor } from './supervisor.js';

const stateDir = mkdtempSync(join(tmpdir(), 'keel-sup-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

interface World {
  sup: Supervisor;
  clock: ManualClock;
  engine: FakeEngine;
  events: KeelEvent[];
  notify: Map<string, (fields: Map<string, string>) => void>;
}

let world: World | undefined;

/** A supervisor over `services:` written as YAML, each entry's image a dummy path. */
function supervise(yaml: string, concurrency?: number): World {
  const manifest = parseManifest(`services:\n${yaml}`, 'keel.yml');
  const clock = new ManualClock();
  const engine = new FakeEngine();
  const events: KeelEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((e) => events.push(e));
  const notify = new Map<string, (fields: Map<string, string>) => void>();
  const notifyHub: NotifyHub = {
    open(service, onMessage) {
      notify.set(service, onMessage);
      return { path: `/run/notify/${service}.sock`, close: () => notify.delete(service) };
    },
  };
  const sup = new Supervisor(manifest.services, { engine, emit: (e) => bus.emit(e), stateDir, clock, random: () => 0.5, notifyHub }, concurrency);
  world = { sup, clock, engine, events, notify };
  return world;
}

/** Every service.state event moved along a row of the transition table. */
afterEach(() => {
  for (const e of world?.events.filter((x) => x.kind === 'service.state') ?? []) {
    expect(TRANSITIONS[e.from as ServiceState], `${String(e.service)}: ${String(e.from)} -> ${String(e.to)}`).toContain(e.to);
  }
  world = undefined;
});

const svc = (name: string, extra = '') => `  - name: ${name}\n    image: /img\n${extra.replace(/^/gm, '    ')}\n`;
const state = (w: World, name: string) => w.sup.get(name)!.state;

/** Ends the service's current run with exit 1, then lets its backoff (if any) run out. */
/** Starts every service and crashes `name`'s first run; resolves with the retry's delay, not yet waited out. */
async function firstCrash(w: World, name: string): Promise<number[]> {
  w.sup.startAll();
  await settle();
  w.engine.last(name).exit(exited(1));
  await settle();
  return w.clock.pending();
}

async function crash(w: World, name: string): Promise<void> {
  await settle();
  w.engine.last(name).exit(exited(1));
  await settle();
  const wait = w.clock.pending()[0];
  if (wait !== undefined) await w.clock.advance(wait);
}
const messages = (w: World) => w.events.map((e) => e.message);

describe('a service through the restart table', () => {
  const endings: Array<[string, (r: FakeRun) => void, boolean]> = [
    ['exit 0', (r) => r.exit(exited(0)), false],
    ['exit 1', (r) => r.exit(exited(1)), true],
    ['a signal', (r) => r.exit(killed('SIGKILL')), true],
    ['an OOM kill', (r) => r.exit(killed('SIGKILL', { oomKilled: true, oomKills: 1 })), true],
    ['an OOM kill of a child', (r) => r.exit(exited(0, { oomKills: 1 })), true],
  ];
  for (const policy of Object.keys(RESTART_TABLE)) {
    for (const [how, end, failed] of endings) {
      const again = RESTART_TABLE[policy as keyof typeof RESTART_TABLE][failed ? 'failed' : 'succeeded'];
      it(`restart: ${policy}, ${how}: ${again ? 'restarted after its backoff' : failed ? 'failed' : 'completed'}`, async () => {
        const w = supervise(svc('s', `restart: "${policy}"\nbackoff: {initial: 100ms, jitter: 0}`));
        w.sup.startAll();
        await settle();
        expect(state(w, 's')).toBe('ready');
        end(w.engine.last('s'));
        await settle();
        const s = w.sup.get('s')!;
        expect(s.exits).toHaveLength(1);
        if (again) {
          expect(state(w, 's')).toBe('backoff');
          expect(w.clock.pending()).toEqual([100]);
          await w.clock.advance(100);
          expect(w.engine.of('s')).toHaveLength(2);
          expect(s.summary()).toMatchObject({ state: 'ready', attempt: 2, restarts: 1 });
        } else {
          expect(state(w, 's')).toBe(failed ? 'failed' : 'completed');
          expect(s.reason).toBe(`restart: ${policy}`);
          await w.clock.advance(60_000);
          expect(w.engine.of('s')).toHaveLength(1);
        }
      });
    }
  }

  it('records each exit: how it ended, when, for how long, and its last log lines', async () => {
    const w = supervise(svc('s', 'restart: "no"'));
    w.sup.startAll();
    await settle();
    const run = w.engine.last('s');
    run.write('starting up');
    run.write('giving up');
    await w.clock.advance(1500);
    run.exit(exited(3));
    await settle();
    expect(w.sup.get('s')!.exits[0]).toMatchObject({ attempt: 1, code: 3, signal: null, runMs: 1500, logTail: ['starting up', 'giving up'] });
    expect(messages(w)).toContain('service s exited 3 after 1500 ms; not restarted (restart: no)');
  });
});

describe('backoff, limits and resets', () => {
  it('backs off 100, 200, 400, 800 ms, caps at max, and starts over after a stable run', async () => {
    const w = supervise(svc('s', 'backoff: {initial: 100ms, factor: 2, max: 1s, jitter: 0, resetAfter: 5s}\nstartLimit: {burst: 100, interval: 1m}'));
    w.sup.startAll();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      w.engine.last('s').exit(exited(1));
      await settle();
      delays.push(w.clock.pending()[0]!);
      await w.clock.advance(delays.at(-1)!);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    await w.clock.advance(5000); // a run as long as resetAfter
    w.engine.last('s').exit(exited(1));
    await settle();
    expect(w.clock.pending()).toEqual([100]);
  });

  it('fails at the start limit, says how to try again, and reset and start each give a fresh chance', async () => {
    const w = supervise(svc('loop', 'backoff: {initial: 20ms, jitter: 0}\nstartLimit: {burst: 3, interval: 1m}'));
    w.sup.startAll();
    const cycle = async (n: number) => {
      for (let i = 0; i < n; i++) await crash(w, 'loop');
    };
    await cycle(3);
    const s = w.sup.get('loop')!;
    expect(s.summary()).toMatchObject({ state: 'failed', attempt: 3, restarts: 2 });
    expect(s.reason).toBe('start limit reached: 3 starts within 60000 ms; "keel reset loop" or "keel start loop" to try again');
    expect(messages(w)).toContain('service loop failed: start limit reached: 3 starts within 60000 ms; "keel reset loop" or "keel start loop" to try again (it exited 1 after 0 ms)');
    await s.reset();
    await cycle(3);
    expect(s.summary()).toMatchObject({ state: 'failed', attempt: 6, restarts: 2 });
    await s.start();
    await cycle(3);
    expect(s.summary()).toMatchObject({ state: 'failed', attempt: 9 });
  });

  it('a start asked for is never held back by the start limit: not a restart after a stop, not a start during a backoff', async () => {
    const w = supervise(svc('once', 'restart: "no"\nstartLimit: {burst: 2, interval: 1m}') + svc('slow', 'backoff: {initial: 10s, jitter: 0}\nstartLimit: {burst: 1, interval: 1m}'));
    w.sup.startAll();
    await settle();
    const once = w.sup.get('once')!;
    for (let i = 0; i < 3; i++) await once.restartNow();
    expect(once.summary()).toMatchObject({ state: 'ready', attempt: 4 });
    expect(w.engine.of('once')).toHaveLength(4);

    // slow's one start fills its window; it crashes and waits 10 s; keel start 1 s later starts it now.
    const slow = w.sup.get('slow')!;
    w.engine.last('slow').exit(exited(1));
    await settle();
    await w.clock.advance(1000);
    await slow.start();
    await settle();
    expect(slow.summary()).toMatchObject({ state: 'ready', attempt: 2 });
    await w.clock.advance(10_000); // the cancelled retry's time: no second run comes of it
    expect(w.engine.of('slow')).toHaveLength(2);
  });

  it('the wall clock stepped back during a backoff does not hold the retry: the start limit goes by monotonic time', async () => {
    const w = supervise(svc('s', 'backoff: {initial: 20s, jitter: 0}\nstartLimit: {burst: 1, interval: 10s}'));
    // The retry is due when the first start has left the window, so the policy allows it ...
    expect(await firstCrash(w, 's')).toEqual([20_000]);
    // ... and the clock set back 15 s (ntpd at boot) changes nothing: by wall time the first start would be 5 s old again.
    w.clock.step(-15_000);
    await w.clock.advance(20_000);
    expect(w.sup.get('s')!.summary()).toMatchObject({ state: 'ready', attempt: 2 });
    expect(w.engine.of('s')).toHaveLength(2);
  });

  it('a run timed across a wall clock step forward is as long as it ran: the backoff is not reset', async () => {
    const w = supervise(svc('s', 'backoff: {initial: 1s, factor: 2, jitter: 0, resetAfter: 60s}'));
    expect(await firstCrash(w, 's')).toEqual([1000]);
    await w.clock.advance(1000);
    // The second run lasts 5 s while the wall clock is set an hour ahead: still a failure in a row, so the delay doubles.
    w.clock.step(3_600_000);
    await w.clock.advance(5000);
    w.engine.last('s').exit(exited(1));
    await settle();
    expect(w.clock.pending()).toEqual([2000]);
    expect(w.sup.get('s')!.exits.at(-1)).toMatchObject({ runMs: 5000 });
  });

  it('on-failure:2 gives up after two restarts', async () => {
    const w = supervise(svc('s', 'restart: on-failure:2\nbackoff: {initial: 10ms, jitter: 0}'));
    w.sup.startAll();
    for (let i = 0; i < 3; i++) await crash(w, 's');
    const s = w.sup.get('s')!;
    expect(s.summary()).toMatchObject({ state: 'failed', restarts: 2, reason: 'gave up after 2 restart(s) (on-failure:2)' });
    expect(s.exits.map((e) => e.code)).toEqual([1, 1, 1]);
  });

  it('a spec the runtime refuses fails at once and is not retried; a start that fails is restarted by policy', async () => {
    const w = supervise(svc('bad') + svc('flaky', 'backoff: {initial: 50ms, jitter: 0}'));
    w.engine.planErrors.set('bad', 'image /img is not a directory');
    w.engine.startErrors.set('flaky', 'runc create flaky: no such file');
    w.sup.startAll();
    await settle();
    expect(w.sup.get('bad')!.summary()).toMatchObject({ state: 'failed', reason: 'image /img is not a directory', lastExit: { error: 'image /img is not a directory' } });
    expect(state(w, 'flaky')).toBe('backoff');
    expect(w.sup.get('flaky')!.exits[0]!.error).toBe('runc create flaky: no such file');
    w.engine.startErrors.delete('flaky');
    await w.clock.advance(50);
    expect(state(w, 'flaky')).toBe('ready');
    await w.clock.advance(60_000);
    expect(w.engine.of('bad')).toEqual([]);
  });

  it('builds a service\'s spec once, however often it restarts', async () => {
    const w = supervise(svc('s', 'backoff: {initial: 10ms, jitter: 0}'));
    w.sup.startAll();
    for (let i = 0; i < 4; i++) await crash(w, 's');
    expect(w.engine.runs).toHaveLength(5);
    expect(w.engine.plans.map((p) => p.id)).toEqual(['s']);
  });
});

describe('dependencies', () => {
  it('start a chain in order, each gated on its condition: ready, started, completed', async () => {
    const w = supervise(
      svc('db', 'ready: {exec: [check], interval: 1s}') +
        svc('web', 'dependsOn: [db]') +
        svc('worker', 'dependsOn: [{name: web, condition: started}]') +
        svc('migrate', 'restart: "no"') +
        svc('app', 'dependsOn: [{name: migrate, condition: completed}]'),
    );
    w.engine.onStart = (r) => {
      if (r.id === 'db') r.execResult = { code: 1, signal: null, stdout: '', stderr: 'not yet', timedOut: false };
    };
    w.sup.startAll();
    await settle();
    expect(w.engine.runs.map((r) => r.id).sort()).toEqual(['db', 'migrate']);
    expect(w.sup.get('web')!.reason).toBe('waiting for db (ready)');
    expect(state(w, 'db')).toBe('running');
    w.engine.last('db').execResult = { code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
    await w.clock.advance(1000);
    expect(state(w, 'db')).toBe('ready');
    expect(w.engine.runs.map((r) => r.id).slice(2)).toEqual(['web', 'worker']);
    expect(w.engine.of('app')).toEqual([]);
    w.engine.last('migrate').exit(exited(0));
    await settle();
    expect(state(w, 'migrate')).toBe('completed');
    expect(state(w, 'app')).toBe('ready');
  });

  it('start first, when starts are bounded, the services that others wait on, the longest chain first', async () => {
    // One start at a time: the queue's order is the start order. proxy waits on web, web on db; cache on queue.
    const w = supervise(
      svc('cache', 'dependsOn: [queue]') + svc('logs') + svc('proxy', 'dependsOn: [web]') + svc('queue') + svc('web', 'dependsOn: [db]') + svc('db'),
      1,
    );
    w.sup.startAll();
    await settle();
    // db heads a chain of two, queue and web chains of one: web, queued once db is up, goes before logs,
    // which has waited longer but heads nothing. Equals keep their order of arrival.
    expect(w.engine.runs.map((r) => r.id)).toEqual(['db', 'queue', 'web', 'logs', 'cache', 'proxy']);
  });

  it('start each service once, even when several wait for room to start and one ends at once', async () => {
    // One start at a time: the others wait in the queue while the first starts, and must be queued once each.
    const w = supervise(svc('first') + svc('oneshot', 'restart: "no"') + svc('last'), 1);
    w.engine.onStart = (r) => {
      if (r.id === 'oneshot') r.exit(exited(0));
    };
    w.sup.startAll();
    await settle();
    expect(state(w, 'oneshot')).toBe('completed');
    expect(w.engine.runs.map((r) => r.id).sort()).toEqual(['first', 'last', 'oneshot']);
  });

  it('say so when a dependency ended without meeting its condition', async () => {
    const w = supervise(svc('db', 'restart: "no"\nready: {exec: [check]}') + svc('web', 'dependsOn: [db]'));
    w.engine.onStart = (r) => (r.execResult = { code: 1, signal: null, stdout: '', stderr: '', timedOut: false });
    w.sup.startAll();
    await settle();
    w.engine.last('db').exit(exited(1));
    await settle();
    expect(w.sup.get('web')!.summary()).toMatchObject({ state: 'waiting', reason: 'waiting for db to be ready, but it is failed' });
    expect(w.events.find((e) => e.kind === 'service.waiting' && e.level === 'warn')?.message).toBe('service web waiting for db to be ready, but it is failed');
  });

  it('stop in reverse order: dependents first, independent ones together, SIGKILL after stopTimeout', async () => {
    const w = supervise(svc('a', 'stopTimeout: 2s') + svc('b', 'dependsOn: [a]') + svc('c', 'dependsOn: [b]') + svc('solo'));
    w.sup.startAll();
    await settle();
    const order: string[] = [];
    w.events.length = 0;
    w.engine.last('c').ignore.add('SIGTERM');
    const stopping = w.sup.stopAll();
    await settle();
    for (const e of w.events) if (e.kind === 'service.state' && e.to === 'stopping') order.push(String(e.service));
    expect(order.sort()).toEqual(['c', 'solo']); // a and b wait for their dependents
    await w.clock.advance(10_000); // c ignores SIGTERM: SIGKILL after its stopTimeout (10 s by default)
    await stopping;
    const stopped = w.events.filter((e) => e.kind === 'service.state' && e.to === 'stopped').map((e) => String(e.service));
    expect(stopped.indexOf('c')).toBeLessThan(stopped.indexOf('b'));
    expect(stopped.indexOf('b')).toBeLessThan(stopped.indexOf('a'));
    expect(w.engine.last('c').signals).toEqual([{ signal: 'SIGTERM', all: false }, { signal: 'SIGKILL', all: true }]);
    expect(messages(w)).toContain('service c still running 10000 ms after SIGTERM: SIGKILL to every process in it');
    for (const name of ['a', 'b', 'c', 'solo']) expect(state(w, name)).toBe('stopped');
  });

  it('restarts nothing once shutdown has begun: a backoff waiting its turn to stop, or a crash before its turn', async () => {
    const w = supervise(svc('crashy', 'backoff: {initial: 1s, jitter: 0}') + svc('flaky') + svc('slow', 'dependsOn: [{name: crashy, condition: started}, {name: flaky, condition: started}]\nstopTimeout: 15s'));
    w.sup.startAll();
    await settle();
    w.engine.last('crashy').exit(exited(1)); // in backoff, 1 s from its next start
    await settle();
    expect(state(w, 'crashy')).toBe('backoff');
    w.engine.last('slow').ignore.add('SIGTERM'); // holds the others' turn for its 15 s
    const stopping = w.sup.stopAll();
    await settle();
    w.engine.last('flaky').exit(exited(1)); // crashes while it waits for its turn
    await settle();
    await w.clock.advance(15_000);
    await stopping;
    expect(w.engine.of('crashy')).toHaveLength(1);
    expect(w.engine.of('flaky')).toHaveLength(1);
    for (const name of ['crashy', 'flaky', 'slow']) expect(state(w, name)).toBe('stopped');
  });
});

describe('readiness and health', () => {
  it('becomes unhealthy after `retries` failed probes, healthy again after one success, and restarts only when asked', async () => {
    const probe = 'ready: {exec: [check], interval: 1s, retries: 2}';
    const w = supervise(svc('kept', probe) + svc('restarted', `${probe}\nrestartOnUnhealthy: true\nbackoff: {initial: 10ms, jitter: 0}`));
    w.sup.startAll();
    await settle();
    expect([state(w, 'kept'), state(w, 'restarted')]).toEqual(['ready', 'ready']);
    for (const r of w.engine.runs) r.execResult = { code: 1, signal: null, stdout: '', stderr: 'down', timedOut: false };
    await w.clock.advance(2000);
    expect(w.sup.get('kept')!.summary()).toMatchObject({ state: 'ready', health: 'unhealthy', restarts: 0 });
    expect(messages(w)).toContain('service kept is unhealthy: check exited 1: down');
    expect(w.engine.of('restarted')[0]!.signals[0]).toEqual({ signal: 'SIGTERM', all: false });
    await w.clock.advance(10);
    expect(w.sup.get('restarted')!.summary()).toMatchObject({ state: 'ready', restarts: 1 });
    w.engine.last('kept').execResult = { code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
    await w.clock.advance(1000);
    expect(w.sup.get('kept')!.health).toBe('healthy');
  });

  it('says why a service is not ready yet while its probe fails: a timeout, or the check\'s own words', async () => {
    const w = supervise(svc('slow', 'ready: {exec: [check], interval: 1s, timeout: 2s}'));
    w.engine.onStart = (r) => (r.execResult = { code: null, signal: null, stdout: '', stderr: '', timedOut: true });
    w.sup.startAll();
    await settle();
    expect(w.sup.get('slow')!.summary()).toMatchObject({ state: 'running', reason: 'not ready yet: timed out after 2000 ms' });
    w.engine.last('slow').execResult = { code: 1, signal: null, stdout: '', stderr: 'connection refused', timedOut: false };
    await w.clock.advance(2000);
    expect(w.sup.get('slow')!.summary().reason).toBe('not ready yet: check exited 1: connection refused');
    w.engine.last('slow').execResult = { code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
    await w.clock.advance(1000);
    expect(w.sup.get('slow')!.summary()).toMatchObject({ state: 'ready', reason: '' });
  });

  it('sd_notify: READY=1 marks it ready (even before runc returned), STATUS= is kept, a silent watchdog restarts it', async () => {
    const w = supervise(svc('n', 'notify: true\nwatchdogSec: 3s\nstopTimeout: 1s\nbackoff: {initial: 10ms, jitter: 0}') + svc('after', 'dependsOn: [n]'));
    w.sup.startAll();
    await settle();
    expect(w.engine.plans[0]!.extra?.env).toEqual(['NOTIFY_SOCKET=/run/notify.sock', 'WATCHDOG_USEC=3000000']);
    expect(state(w, 'n')).toBe('running');
    expect(w.engine.of('after')).toEqual([]);
    w.notify.get('n')!(new Map([['READY', '1'], ['STATUS', 'serving']]));
    await settle();
    expect(w.sup.get('n')!.summary()).toMatchObject({ state: 'ready', status: 'serving' });
    expect(state(w, 'after')).toBe('ready');
    await w.clock.advance(2000);
    w.notify.get('n')!(new Map([['WATCHDOG', '1']]));
    await w.clock.advance(2000);
    expect(w.engine.last('n').signals).toEqual([]); // fed in time
    w.engine.last('n').ignore.add('SIGABRT');
    await w.clock.advance(1000);
    expect(w.engine.last('n').signals).toEqual([{ signal: 'SIGABRT', all: false }]);
    await w.clock.advance(1000);
    expect(w.engine.of('n')[0]!.signals.at(-1)).toEqual({ signal: 'SIGKILL', all: true });
    await w.clock.advance(10);
    expect(w.sup.get('n')!.summary()).toMatchObject({ state: 'running', restarts: 1 });
  });
});

describe('what a stop or a limit cannot wait for', () => {
  it('gives up on a container that outlives SIGKILL: the stop ends, says so, and its late exit is still recorded', async () => {
    const w = supervise(svc('stuck', 'stopTimeout: 1s'));
    w.sup.startAll();
    await settle();
    const run = w.engine.last('stuck');
    run.ignore.add('SIGTERM');
    run.ignore.add('SIGKILL'); // a process in uninterruptible sleep
    let stopped = false;
    void w.sup.get('stuck')!.stop().then(() => (stopped = true));
    await w.clock.advance(1000 + 10_000);
    expect(stopped).toBe(true);
    expect(w.sup.get('stuck')!.summary()).toMatchObject({ state: 'stopped', reason: 'gave up waiting 10000 ms after SIGKILL', pid: undefined });
    expect(messages(w)).toContain('service stuck did not exit within 10000 ms of SIGKILL (a process stuck in the kernel?); keel gave up waiting for it');
    run.exit(killed('SIGKILL'));
    await settle();
    expect(state(w, 'stuck')).toBe('stopped');
    expect(w.sup.get('stuck')!.exits.at(-1)).toMatchObject({ signal: 'SIGKILL' });
    expect(messages(w)).toContainEqual(expect.stringMatching(/^service stuck was killed by SIGKILL after \d+ ms, after keel had given up waiting for it$/));
  });

  it('reports forks refused at the pids limit while the service runs, and in its summary', async () => {
    const w = supervise(svc('forky', 'resources: {pids: {limit: 16}}'));
    w.sup.startAll();
    await settle();
    await w.clock.advance(2000);
    expect(w.events.some((e) => e.kind === 'service.pids')).toBe(false);
    w.engine.last('forky').extraStats = { pidsLimitHits: 37 };
    await w.clock.advance(2000);
    expect(w.events.filter((e) => e.kind === 'service.pids').map((e) => e.message)).toEqual(['service forky is at its pids limit (16): 37 fork(s) refused so far']);
    expect(w.sup.get('forky')!.summary().pidsLimitHits).toBe(37);
    await w.clock.advance(2000); // no news, no event
    expect(w.events.filter((e) => e.kind === 'service.pids')).toHaveLength(1);
  });
});

describe('keel start, stop, restart and the boot milestone', () => {
  it('stop during backoff cancels the restart; start brings it back; restart is stop then start', async () => {
    const w = supervise(svc('s', 'backoff: {initial: 1s, jitter: 0}'));
    w.sup.startAll();
    await settle();
    w.engine.last('s').exit(exited(1));
    await settle();
    await w.sup.get('s')!.stop();
    expect(state(w, 's')).toBe('stopped');
    await w.clock.advance(5000);
    expect(w.engine.runs).toHaveLength(1);
    await w.sup.get('s')!.start();
    expect(state(w, 's')).toBe('ready');
    const restarting = w.sup.get('s')!.restartNow();
    await settle();
    await restarting;
    expect(w.sup.get('s')!.summary()).toMatchObject({ state: 'ready', attempt: 3 });
  });

  it('the milestone comes once each service has been ready, even with a crash loop beside them, naming those never ready', async () => {
    const w = supervise(svc('ok') + svc('loop', 'backoff: {initial: 10ms, jitter: 0}\nstartLimit: {burst: 2, interval: 1m}\nready: {exec: [check], interval: 1s}'));
    w.engine.onStart = (r) => {
      if (r.id === 'loop') r.execResult = { code: 1, signal: null, stdout: '', stderr: '', timedOut: false };
    };
    let summary: unknown;
    void w.sup.allReady().then((s) => (summary = s));
    w.sup.startAll();
    for (let i = 0; i < 2; i++) await crash(w, 'loop');
    expect(state(w, 'loop')).toBe('failed');
    expect(summary).toEqual({ ready: 1, neverReady: ['loop'] });
  });
});

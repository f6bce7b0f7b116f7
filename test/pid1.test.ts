// keel-init as PID 1 of a PID namespace: reaping, signals, shutdown,
// containment of faults, and the emergency state, all with real processes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startKeel, type KeelNs } from './helpers/keel-ns.js';

let keel: KeelNs | undefined;
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

describe('keel-init as PID 1 of a PID namespace', () => {
  it('stays up when the rest of itself cannot load, says why, and still ends on SIGTERM', async () => {
    // A broken bundle is a fault nothing outside keel can cause: the load stage is made to throw (KEEL_INJECT_FAULT).
    keel = startKeel('hostname: broken\n', { KEEL_INJECT_FAULT: 'load' });
    await keel.waitFor(/EMERGENCY: boot stopped: boot stage load failed: injected: the rest of keel-init cannot load/);
    // Nothing holds node's event loop open but keel's own choice to stay up: without it PID 1 would end here.
    const state = await Promise.race([keel.exited, new Promise((r) => setTimeout(() => r('running'), 2000))]);
    expect(state).toBe('running');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('boots, reports runc through a child_process spawn, and reaps 1,000 orphans', async () => {
    keel = startKeel('hostname: ns-test\n');
    await keel.waitFor(/boot complete/);
    expect(keel.output()).toMatch(/keel: keel \S+ starting as pid 1 \(namespace mode\)/);
    await keel.waitFor(/keel: runc \d+\.\d+/); // asked once boot is done
    // Each subshell exits at once and leaves its sleep to PID 1.
    // Long enough that the last hundred still run once the loop is done, even
    // on a loaded machine (at load 15 on two cores the 2,000 forks took over a minute).
    const r = keel.exec('for i in $(seq 1000); do (sleep 15 </dev/null >/dev/null 2>&1 &); done', 180_000);
    expect(r.status).toBe(0);
    expect(keel.others().length).toBeGreaterThan(100); // the orphans are there, re-parented to keel
    await eventually(() => keel!.others().length === 0, 60_000, 'every orphan to be reaped');
    expect(keel.others()).toEqual([]); // no zombie, nothing left
  }, 300_000);

  it('on SIGTERM stops what runs, SIGKILLs what ignores SIGTERM after the grace period, and exits 0', async () => {
    keel = startKeel('shutdown:\n  grace: 1s\n');
    await keel.waitFor(/boot complete/);
    // One process that ends on SIGTERM and one (a shell and its sleep) that ignores it.
    keel.exec('sleep 1000 >/dev/null 2>&1 & sh -c \'trap "" TERM; sleep 1000\' >/dev/null 2>&1 &');
    await eventually(() => keel!.others().length === 3, 5000, 'three processes');
    const t0 = Date.now();
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    const took = Date.now() - t0;
    const out = keel.output();
    expect(out).toContain('keel: SIGTERM: poweroff');
    expect(out).toContain('keel: sent SIGTERM to 3 remaining process(es)');
    expect(out).toMatch(/keel: warning: sent SIGKILL to 2 process\(es\) still running after 1000 ms/);
    expect(out).toMatch(/keel: poweroff now/);
    expect(took).toBeGreaterThanOrEqual(1000);
    const log = readFileSync(join(keel.dir, 'state', 'keel.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(log.map((e) => e.kind)).toEqual(expect.arrayContaining(['boot.complete', 'shutdown.begin', 'shutdown.signal', 'shutdown.end']));
  });

  it.each([
    ['SIGINT', 'reboot'],
    ['SIGUSR1', 'halt'],
    ['SIGPWR', 'poweroff'],
  ] as const)('%s means %s', async (sig, action) => {
    keel = startKeel('');
    await keel.waitFor(/boot complete/);
    keel.signal(sig);
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    expect(keel.output()).toContain(`keel: ${sig}: ${action}`);
    expect(keel.output()).toContain(`keel: ${action} now`);
  });

  it('boots without its log file when keel.log cannot be opened, says so, and shuts down cleanly', async () => {
    const state = mkdtempSync(join(tmpdir(), 'keel-nolog-'));
    try {
      mkdirSync(join(state, 'keel.log')); // a directory where the log file would go
      keel = startKeel('hostname: nolog\n', {}, { stateDir: state });
      await keel.waitFor(/boot complete/);
      expect(keel.output()).toMatch(/keel: warning: no log file in \S+: EISDIR/);
      keel.signal('SIGTERM');
      expect(await keel.exited).toEqual({ code: 0, signal: null });
      expect(keel.output()).toMatch(/keel: poweroff now/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('logs SIGHUP and keeps running', async () => {
    keel = startKeel('');
    await keel.waitFor(/boot complete/);
    keel.signal('SIGHUP');
    await keel.waitFor(/SIGHUP received/);
    keel.signal('SIGTERM');
    expect((await keel.exited).code).toBe(0);
  });

  it('contains an uncaught exception and an unhandled rejection', async () => {
    keel = startKeel('', { KEEL_INJECT_FAULT: 'uncaught,rejection' });
    await keel.waitFor(/contained an uncaught exception.*injected uncaught exception/);
    await keel.waitFor(/contained an unhandled rejection: injected unhandled rejection/);
    // Still PID 1, still reaping.
    keel.exec('(sleep 0.2 </dev/null >/dev/null 2>&1 &)');
    await eventually(() => keel!.others().length === 0, 5000, 'the orphan to be reaped');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  });

  it('enters the emergency state on an invalid manifest, still reaps, and still shuts down', async () => {
    keel = startKeel('hostname: "not a hostname"\nservces: []\n');
    await keel.waitFor(/EMERGENCY/);
    await keel.waitFor(/keel\.yml:2:1: servces: unknown field; did you mean "services"\?/);
    expect(keel.output()).toMatch(/keel\.yml:1:11: hostname: "not a hostname" is not a hostname/);
    expect(keel.output()).not.toContain('boot complete');
    keel.exec('(sleep 0.2 </dev/null >/dev/null 2>&1 &)');
    await eventually(() => keel!.others().length === 0, 5000, 'the orphan to be reaped');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  });

  it('enters the emergency state when the manifest is missing', async () => {
    keel = startKeel({ path: '/nonexistent/keel.yml' });
    await keel.waitFor(/EMERGENCY: boot stopped: the manifest \/nonexistent\/keel\.yml is not valid/);
    await keel.waitFor(/cannot read the manifest: no such file/);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  });
});

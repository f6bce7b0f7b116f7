// onboot and onshutdown without root: entries one after another, timeouts,
// critical entries, and what each outcome is reported as. The real runc runs
// are in test/runtime.test.ts.
import { describe, expect, it } from 'vitest';
import { EventBus, type KeelEvent } from '../events/bus.js';
import { parseManifest } from '../model/index.js';
import { exited, FakeEngine } from '../test/helpers/fake-engine.js';
import { ManualClock, settle } from '../test/helpers/manual-clock.js';
import { runPhase, type PhaseDeps, type RunPhase } from './phase.js';

function setup(yaml: string, phase: RunPhase = 'onboot') {
  const entries = parseManifest(`${phase}:\n${yaml}`, 'keel.yml')[phase];
  const clock = new ManualClock();
  const engine = new FakeEngine();
  const events: KeelEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((e) => events.push(e));
  const lines: string[] = [];
  const deps: PhaseDeps = { engine, emit: (e) => bus.emit(e), stateDir: '/run/keel', clock, onLine: (name, _s, line) => lines.push(`${name}: ${line}`) };
  return { entries, clock, engine, events, deps, lines };
}

const entry = (name: string, extra = '') => `  - name: ${name}\n    image: /img\n${extra.replace(/^/gm, '    ')}\n`;

describe('a phase', () => {
  it('runs its entries one at a time, in order, each to completion, and reports each', async () => {
    const t = setup(entry('first') + entry('fails') + entry('last'));
    t.engine.onStart = (r) => {
      r.write(`${r.id} says hi`);
      setTimeout(() => r.exit(exited(r.id === 'onboot.fails' ? 3 : 0)), 1);
    };
    const result = await runPhase('onboot', t.entries, t.deps);
    expect(t.engine.runs.map((r) => r.id)).toEqual(['onboot.first', 'onboot.fails', 'onboot.last']);
    expect(result.results.map((r) => r.code)).toEqual([0, 3, 0]);
    expect(result.criticalFailure).toBeUndefined();
    expect(t.lines).toEqual(['first: onboot.first says hi', 'fails: onboot.fails says hi', 'last: onboot.last says hi']);
    const failed = t.events.find((e) => e.kind === 'onboot.exited' && e.name === 'fails')!;
    expect(failed.level).toBe('error');
    expect(failed.message).toBe('onboot fails exited 3 in 0 ms\nlast lines of its log (/run/keel/logs/onboot.fails.log):\n  | onboot.fails says hi');
  });

  it('kills an entry that outlives its timeout, with SIGKILL to all its processes, and reports the timeout', async () => {
    const t = setup(entry('slow', 'timeout: 2s'));
    const running = runPhase('onboot', t.entries, t.deps);
    await t.clock.advance(2000);
    const { results } = await running;
    expect(t.engine.last('onboot.slow').signals).toContainEqual({ signal: 'SIGKILL', all: true });
    expect(results[0]).toMatchObject({ timedOut: true, signal: 'SIGKILL', code: null });
    expect(t.events.map((e) => e.message)).toEqual(expect.arrayContaining(['onboot slow still running after 2000 ms: killing it', expect.stringMatching(/^onboot slow timed out and was killed \(SIGKILL\) in 2000 ms/)]));
  });

  it('a shutdown during onboot stops the running entry (SIGTERM to all its processes) and starts no other, critical or not', async () => {
    const t = setup(entry('long', 'critical: true') + entry('next') + entry('last'));
    const abort = new AbortController();
    const running = runPhase('onboot', t.entries, { ...t.deps, abort: abort.signal });
    await settle();
    abort.abort();
    const result = await running;
    expect(t.engine.runs.map((r) => r.id)).toEqual(['onboot.long']);
    expect(t.engine.last('onboot.long').signals).toEqual([{ signal: 'SIGTERM', all: true }]);
    expect(result.criticalFailure).toBeUndefined();
    expect(result.results).toHaveLength(1);
    expect(t.events.map((e) => e.message)).toEqual(
      expect.arrayContaining(['onboot long is stopped: keel is shutting down (SIGTERM, then SIGKILL after 3000 ms)', 'onboot: not run, keel is shutting down: next, last']),
    );
  });

  it('stops onboot at a failed critical entry; onshutdown runs every entry whatever fails', async () => {
    const bad = entry('bad', 'critical: true') + entry('after');
    const boot = setup(bad);
    boot.engine.onStart = (r) => r.exit(exited(1));
    const r = await runPhase('onboot', boot.entries, boot.deps);
    expect(r.criticalFailure?.name).toBe('bad');
    expect(boot.engine.runs.map((x) => x.id)).toEqual(['onboot.bad']);
    const down = setup(bad, 'onshutdown');
    down.engine.onStart = (x) => x.exit(exited(1));
    const d = await runPhase('onshutdown', down.entries, down.deps);
    expect(d.criticalFailure).toBeUndefined();
    expect(down.engine.runs.map((x) => x.id)).toEqual(['onshutdown.bad', 'onshutdown.after']);
  });

  it('reports an entry that could not start, and counts it failed, with nothing to wait for', async () => {
    const t = setup(entry('nocmd', 'critical: true'));
    t.engine.startErrors.set('onboot.nocmd', 'runc create onboot.nocmd: exec: no such file');
    const r = await runPhase('onboot', t.entries, t.deps);
    await settle();
    expect(r.criticalFailure).toMatchObject({ error: 'runc create onboot.nocmd: exec: no such file' });
    expect(t.events.find((e) => e.kind === 'onboot.failed')?.message).toBe('onboot nocmd failed to start: runc create onboot.nocmd: exec: no such file');
  });
});

import { describe, expect, it } from 'vitest';
import type { KeelEventInput } from '../../events/bus.js';
import { runShutdown, type ShutdownDeps } from './shutdown.js';

// These tests drive the real sequence with recording step functions; the
// real signals, reaping and exit are exercised by test/pid1.test.ts.
function recorder(opts: { remainingAfterTerm: number[]; remainingAfterKill?: number[]; failing?: string[] }) {
  const steps: string[] = [];
  const events: KeelEventInput[] = [];
  let phase: 'before' | 'termed' | 'killed' = 'before';
  const deps: ShutdownDeps = {
    stopHooks: [
      { name: 'services', run: async () => void steps.push('stop services') },
      {
        name: 'onshutdown',
        run: async () => {
          steps.push('onshutdown');
          if (opts.failing?.includes('onshutdown')) throw new Error('boom');
        },
      },
    ],
    signalAll: (sig) => {
      steps.push(sig);
      phase = sig === 'SIGTERM' ? 'termed' : 'killed';
      return 2;
    },
    remaining: () => (phase === 'termed' ? opts.remainingAfterTerm : phase === 'killed' ? (opts.remainingAfterKill ?? []) : [1, 2]),
    graceMs: 100,
    deadlineMs: 60_000,
    sync: () => void steps.push('sync'),
    unmount: () => {
      steps.push('unmount');
      if (opts.failing?.includes('unmount')) throw new Error('busy');
      return '';
    },
    finish: (a) => void steps.push(`finish ${a}`),
    emit: (e) => void events.push(e),
  };
  return { deps, steps, events };
}

describe('shutdown sequence', () => {
  it('has a deadline: an owner still stopping is named and given up on, what is left gets SIGKILL, and the machine powers off', async () => {
    const { deps, steps, events } = recorder({ remainingAfterTerm: [7] });
    deps.deadlineMs = 50;
    deps.stopHooks[0] = { name: 'services', run: () => new Promise<void>(() => {}), pending: () => ['db (stopping)'] };
    await runShutdown('poweroff', deps);
    expect(steps).toEqual(['SIGKILL', 'sync', 'unmount', 'finish poweroff']);
    expect(events.find((e) => e.kind === 'shutdown.deadline')?.message).toBe('shutdown: services still not stopped 50 ms after shutdown began (db (stopping)); giving up on it and skipping onshutdown, killing what remains');
  });

  it('stops owners first, then SIGTERM, then sync, unmount and the power action', async () => {
    const { deps, steps } = recorder({ remainingAfterTerm: [] });
    await runShutdown('poweroff', deps);
    expect(steps).toEqual(['stop services', 'onshutdown', 'SIGTERM', 'sync', 'unmount', 'finish poweroff']);
  });

  it('sends SIGKILL only after the grace period, to processes that ignored SIGTERM', async () => {
    const { deps, steps, events } = recorder({ remainingAfterTerm: [42] });
    const t0 = Date.now();
    await runShutdown('reboot', deps);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(steps).toEqual(['stop services', 'onshutdown', 'SIGTERM', 'SIGKILL', 'sync', 'unmount', 'finish reboot']);
    expect(events.find((e) => e.kind === 'shutdown.signal' && e.signal === 'SIGKILL')?.message).toContain('42');
  });

  it('goes on to power off when a step fails, and reports the failure', async () => {
    const { deps, steps, events } = recorder({ remainingAfterTerm: [], failing: ['onshutdown', 'unmount'] });
    await runShutdown('halt', deps);
    expect(steps.at(-1)).toBe('finish halt');
    const errors = events.filter((e) => e.kind === 'shutdown.error').map((e) => e.message);
    expect(errors).toEqual([expect.stringContaining('onshutdown failed: boom'), expect.stringContaining('unmount failed: busy')]);
  });
});

import { describe, expect, it } from 'vitest';
import { earlySignalPrelude, EARLY_SIGNALS, EARLY_SIGNALS_KEY } from '../../model/early-signals.js';
import { actionFor, CONTAINER_SIGNAL_TABLE, HeldSignals, SIGNAL_TABLE } from './signals.js';

describe('signal table', () => {
  it("follows busybox init's meanings", () => {
    expect(actionFor('SIGTERM')).toBe('poweroff');
    expect(actionFor('SIGPWR')).toBe('poweroff');
    expect(actionFor('SIGUSR2')).toBe('poweroff');
    expect(actionFor('SIGINT')).toBe('reboot');
    expect(actionFor('SIGUSR1')).toBe('halt');
    expect(actionFor('SIGHUP')).toBe('log');
    expect(actionFor('SIGQUIT')).toBeUndefined();
  });

  it("as a container's init: docker stop and ctrl-c end it, the rest go to the services", () => {
    for (const s of ['SIGTERM', 'SIGINT']) expect(actionFor(s, CONTAINER_SIGNAL_TABLE)).toBe('poweroff');
    for (const s of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH']) expect(actionFor(s, CONTAINER_SIGNAL_TABLE)).toBe('forward');
  });

  it('only names signals Node can install a handler for', () => {
    for (const name of [...Object.keys(SIGNAL_TABLE), ...Object.keys(CONTAINER_SIGNAL_TABLE)]) {
      expect(() => {
        const h = () => {};
        process.on(name as NodeJS.Signals, h);
        process.off(name as NodeJS.Signals, h);
      }).not.toThrow();
    }
  });

  it('holds a signal that comes before boot can act on it, once however often, and hands it over in order', async () => {
    const before = [...process.listeners('SIGUSR2'), ...process.listeners('SIGWINCH')];
    try {
      const held = new HeldSignals({ SIGUSR2: 'poweroff', SIGWINCH: 'log' });
      process.kill(process.pid, 'SIGWINCH');
      process.kill(process.pid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 100)); // node runs signal handlers from its event loop
      process.kill(process.pid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 200));
      const seen: string[] = [];
      held.handleWith((signal, action) => seen.push(`${signal} ${action}`));
      expect(seen).toEqual(['SIGWINCH log', 'SIGUSR2 poweroff']);
      process.kill(process.pid, 'SIGUSR2'); // from now on, at once
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual(['SIGWINCH log', 'SIGUSR2 poweroff', 'SIGUSR2 poweroff']);
    } finally {
      for (const sig of ['SIGUSR2', 'SIGWINCH'] as const) for (const l of process.listeners(sig)) if (!before.includes(l)) process.off(sig, l);
    }
  });

  it("takes over the signals a container image's launcher held while keel-init loaded, and leaves it none after", async () => {
    const before = new Map(EARLY_SIGNALS.map((s) => [s, process.listeners(s)]));
    expect([...EARLY_SIGNALS].sort()).toEqual(Object.keys(CONTAINER_SIGNAL_TABLE).sort()); // the launcher holds what the table acts on
    try {
      new Function(earlySignalPrelude())(); // the launcher's first lines (pkg/image/init-image.ts), before keel-init.js loads
      process.kill(process.pid, 'SIGWINCH');
      process.kill(process.pid, 'SIGUSR2');
      process.kill(process.pid, 'SIGWINCH');
      await new Promise((r) => setTimeout(r, 200));
      const held = new HeldSignals({ SIGUSR2: 'poweroff', SIGWINCH: 'log' });
      const seen: string[] = [];
      held.handleWith((signal, action) => seen.push(`${signal} ${action}`));
      expect(seen).toEqual(['SIGWINCH log', 'SIGUSR2 poweroff']);
      // The launcher's listeners are gone: what comes now reaches keel alone.
      for (const s of EARLY_SIGNALS) expect(process.listeners(s).length, s).toBe(before.get(s)!.length + (s === 'SIGUSR2' || s === 'SIGWINCH' ? 1 : 0));
      process.kill(process.pid, 'SIGWINCH');
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual(['SIGWINCH log', 'SIGUSR2 poweroff', 'SIGWINCH log']);
    } finally {
      for (const s of EARLY_SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)!.includes(l)) process.off(s, l);
      delete (globalThis as Record<symbol, unknown>)[Symbol.for(EARLY_SIGNALS_KEY)];
    }
  });
});

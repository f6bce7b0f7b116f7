import { describe, expect, it } from 'vitest';
import { actionFor, CONTAINER_SIGNAL_TABLE, SIGNAL_TABLE } from './signals.js';

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
});

import { describe, expect, it } from 'vitest';
import { actionFor, SIGNAL_TABLE } from './signals.js';

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

  it('only names signals Node can install a handler for', () => {
    for (const name of Object.keys(SIGNAL_TABLE)) {
      expect(() => {
        const h = () => {};
        process.on(name as NodeJS.Signals, h);
        process.off(name as NodeJS.Signals, h);
      }).not.toThrow();
    }
  });
});

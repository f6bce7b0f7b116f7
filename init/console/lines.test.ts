// The console's text: colour by level, kernel records, the held-events summary.
import { describe, expect, it } from 'vitest';
import type { KeelEvent } from '../../events/bus.js';
import { consoleColour } from './consoles.js';
import { heldSummary } from './held-summary.js';
import { parseKmsg, relayBelow } from './kmsg.js';
import { consoleLine } from './sink.js';
import { psTable } from '../../api/commands/verbs.js';
import type { ServiceSummary } from '../../api/wire.js';

let id = 0;
const ev = (kind: string, message: string, fields: Partial<KeelEvent> = {}): KeelEvent => ({ id: ++id, time: 0, level: 'info', kind, message, ...fields });

describe('colour', () => {
  it('is on for a terminal with a real TERM, off for dumb or no terminal, and keel.color= decides over both', () => {
    expect(consoleColour('console=ttyS0', { TERM: 'linux' }, true)).toBe(true);
    expect(consoleColour('console=ttyS0', { TERM: 'dumb' }, true)).toBe(false);
    expect(consoleColour('', {}, true)).toBe(false);
    expect(consoleColour('', { TERM: 'xterm' }, false)).toBe(false);
    expect(consoleColour('keel.color=off', { TERM: 'linux' }, true)).toBe(false);
    expect(consoleColour('keel.color=off keel.color=on', { TERM: 'dumb' }, false)).toBe(true);
    expect(consoleColour('', { TERM: 'linux', KEEL_COLOR: 'off' }, true)).toBe(false);
  });

  it('colours whole lines of errors and warnings, each line reset before its newline', () => {
    expect(consoleLine(ev('x', 'a\nb', { level: 'error' }), true)).toBe('\x1b[31mkeel: ERROR: a\x1b[0m\n\x1b[31mkeel:   b\x1b[0m\n');
    expect(consoleLine(ev('x', 'w', { level: 'warn' }), true)).toBe('\x1b[33mkeel: warning: w\x1b[0m\n');
    expect(consoleLine(ev('x', 'fine'), true)).toBe('keel: fine\n');
    expect(consoleLine(ev('x', 'bad', { level: 'error' }), false)).toBe('keel: ERROR: bad\n');
  });
});

describe('/dev/kmsg records', () => {
  it('gives level, facility and the text without its key=value lines', () => {
    expect(parseKmsg('3,1234,5678901,-;EXT4-fs error: bad block\n SUBSYSTEM=block\n DEVICE=b8:0\n')).toEqual({ level: 3, facility: 0, text: 'EXT4-fs error: bad block' });
    expect(parseKmsg('11,7,100,-,caller=T1;from userspace\n')).toEqual({ level: 3, facility: 1, text: 'from userspace' });
    expect(parseKmsg('garbage')).toBeUndefined();
    expect(parseKmsg('x,1,2,-;text')).toBeUndefined();
  });

  it('relays what the kernel would have printed, never below warnings', () => {
    expect(relayBelow('4')).toBe(4); // quiet: errors and worse
    expect(relayBelow('7')).toBe(5); // warnings and worse
    expect(relayBelow('junk')).toBe(5);
  });
});

describe('the summary of held events', () => {
  it('counts by kind and shows the latest line per service and kind, failures first', () => {
    const exit = (n: number) => ev('service.state', `service flap exited 3 after ${n} ms; restarting in 500 ms`, { service: 'flap', to: 'backoff', runMs: n, code: 3 });
    const events = [
      exit(100),
      ev('service.state', 'service web ready after 20 ms', { service: 'web', to: 'ready' }),
      exit(200),
      ev('service.state', 'service hog was killed by the OOM killer (SIGKILL) after 9 ms; restarting in 100 ms', { service: 'hog', runMs: 9, oomKilled: true }),
      ev('kernel.log', 'kernel: disk on fire', { level: 'error' }),
      ev('service.state', 'service db failed: start limit reached', { service: 'db', to: 'failed', level: 'error' }),
      ev('api.listening', 'debug only', { level: 'debug' }),
    ];
    const text = heldSummary(events);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('keel: while the console was in use: 6 event line(s) held back: 1 failed, 1 OOM kill, 2 service exits, 1 kernel message, 1 other');
    expect(lines.slice(1)).toEqual([
      'keel:   ERROR: service db failed: start limit reached',
      'keel:   service hog was killed by the OOM killer (SIGKILL) after 9 ms; restarting in 100 ms',
      'keel:   service flap exited 3 after 200 ms; restarting in 500 ms (latest of 2)',
      'keel:   ERROR: kernel: disk on fire',
      'keel:   keel events shows them all',
    ]);
    expect(heldSummary([ev('x', 'd', { level: 'debug' })])).toBe('');
    expect(heldSummary(events, true)).toContain('\x1b[31mkeel:   ERROR: service db failed');
  });
});

describe('workload text in keel lines', () => {
  it('writes control characters out (\\x1b), on the console, in keel events and in keel ps, keeping keel\'s own colour', () => {
    const hostile = 'serving \x1b]0;TITLE\x07\x1b[2J\x1b[31mred\x9b1m\x7f';
    const line = consoleLine(ev('service.ready', `service web ready (READY=1) after 5 ms: ${hostile}`, { level: 'warn' }), true);
    expect(line).toContain('serving \\x1b]0;TITLE\\x07\\x1b[2J\\x1b[31mred\\x9b1m\\x7f');
    // Only keel's own colour is left: its warning colour on, and off at the end of the line.
    expect(line.replace(/\x1b\[(33|0)m/g, '')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(consoleLine(ev('x', 'two\nlines\twith a tab'))).toBe('keel: two\nkeel:   lines\twith a tab\n');
    const ps = psTable([{ name: 'web', state: 'running', pid: 7, restarts: 0, startedAt: 0, reason: hostile } as ServiceSummary], 1000);
    expect(ps).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(ps).toContain('\\x1b]0;TITLE');
  });
});

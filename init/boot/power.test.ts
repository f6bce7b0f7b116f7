import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../events/bus.js';
import type { Sys } from '../core/sys.js';
import { PowerControl } from './power.js';

// A container's exit code when a signal stops it before its main service was
// set up: in a real container that takes a `docker stop` landing between
// keel-init's signal stage and its runtime stage, a window no test can hit on
// purpose (test/container-init.test.ts covers the stop during the CMD's wait).
// So process.exit is replaced here, and nothing else: the shutdown sequence
// runs for real, with no stop hooks yet and no processes of this one's to signal.
const exited = () =>
  new Promise<number | undefined>((resolve) => {
    vi.spyOn(process, 'exit').mockImplementation(((code?: number) => resolve(code)) as typeof process.exit);
  });

afterEach(() => vi.restoreAllMocks());

describe("a container's exit code when a signal stops it early", () => {
  const power = (hasMain: boolean) => {
    const p = new PowerControl(new EventBus(), { sync: () => {} } as unknown as Sys, false, false, true);
    p.expectMain(() => hasMain);
    p.setTimes({ grace: 10, timeout: 1000 });
    return p;
  };

  it('is 128+N when the container has a main that never ran (143 for SIGTERM, 130 for SIGINT)', async () => {
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const code$ = exited();
      power(true).requestBySignal('poweroff', signal);
      expect(await code$).toBe(code);
      vi.restoreAllMocks();
    }
  });

  it('is 0 without a main (a clean stop of services only), and the main\'s own code once it has one', async () => {
    const none = exited();
    power(false).requestBySignal('poweroff', 'SIGTERM');
    expect(await none).toBe(0);
    vi.restoreAllMocks();
    const ran = exited();
    const p = power(true);
    p.exitCodeFrom(() => 5);
    p.requestBySignal('poweroff', 'SIGTERM');
    expect(await ran).toBe(5);
  });
});

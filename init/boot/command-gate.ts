// A container's command waits for the keel.yml services (cmd.waitFor), as
// the main program of an s6-overlay image waits for its services. It depends
// on each of them (container.ts), which orders the stop (the command first)
// and shows in keel ps what it waits for; but the supervisor starts a
// dependent only while every dependency is ready at the same moment, which a
// crash loop beside them may never allow. So the command starts here, once
// each service has been ready (or started) at least once, the moment boot
// calls "all services ready". What the supervisor alone would not end is
// settled here too: a service that failed first, which would
// leave the command waiting for good, and one still not there when
// cmd.timeout has passed (a readiness probe that never passes). Then, per
// cmd.ifNotReady, the container ends with exit code 1 or the command starts
// anyway; either way keel names the services and why.
import type { EventBus } from '../../events/bus.js';
import type { Manifest } from '../../model/index.js';
import { systemClock } from '../../services/clock.js';
import type { Service } from '../../services/service.js';
import { satisfied, type Supervisor } from '../../services/supervisor.js';
import { CMD_SERVICE } from './container-mode.js';
import type { PowerControl } from './power.js';

/** The container's exit code when it ends because the command could not start. */
export const NOT_READY_EXIT_CODE = 1;

/**
 * Only `failed` is given up for good. `stopped` is not: `keel restart` passes
 * through it, and a service someone stopped on purpose may be started again;
 * the timeout settles that case.
 */
const GIVEN_UP = new Set(['failed']);

/** Watches the command's wait from the moment the services start; does nothing when there is no command or it waits for nothing. */
export function gateCommand(supervisor: Supervisor, manifest: Manifest, power: PowerControl, bus: EventBus): void {
  const cmd = supervisor.get(CMD_SERVICE);
  if (!cmd || manifest.main !== CMD_SERVICE || cmd.entry.dependsOn.length === 0) return;
  const { timeout, ifNotReady, waitFor } = manifest.cmd;
  const deps = cmd.entry.dependsOn.flatMap((d) => {
    const service = supervisor.get(d.name);
    return service ? [{ service, condition: d.condition }] : [];
  });
  const offs: Array<() => void> = [];
  const done = () => {
    cancelTimer();
    for (const off of offs.splice(0)) off();
  };
  const describe = (s: Service) => {
    const { reason } = s.summary();
    return `${s.name} ${s.state}${reason ? ` (${reason})` : ''}`;
  };
  const settle = (why: string) => {
    done();
    if (power.shuttingDown || cmd.state !== 'waiting') return;
    if (ifNotReady === 'start') {
      bus.emit({ kind: 'cmd.not-waiting', level: 'warn', message: `the command starts without its services: ${why} (cmd.ifNotReady: start)`, service: CMD_SERVICE });
      void cmd.start();
      return;
    }
    bus.emit({ kind: 'cmd.not-started', level: 'error', message: `the command was not started: ${why}; the container ends (cmd.ifNotReady: exit; "start" runs the command anyway)`, service: CMD_SERVICE });
    power.request('poweroff', 'the command could not start: its services were not there', NOT_READY_EXIT_CODE);
  };
  const seen = new Set<string>();
  const check = () => {
    if (cmd.state !== 'waiting' || power.shuttingDown) return done();
    for (const d of deps) if (satisfied(d.service, d.condition)) seen.add(d.service.name);
    const gone = deps.filter((d) => GIVEN_UP.has(d.service.state));
    if (gone.length > 0) return settle(gone.map((d) => describe(d.service)).join('; '));
    if (deps.every((d) => seen.has(d.service.name))) {
      done();
      void cmd.start();
    }
  };
  // Through the clock's timer: setTimeout fires at once past 2^31-1 ms (about 24.8 days), and a timeout may be longer.
  // A timeout of 0 is no limit, as s6-overlay's S6_CMD_WAIT_FOR_SERVICES_MAXTIME=0 is.
  const cancelTimer =
    timeout === 0
      ? () => undefined
      : systemClock.after(timeout, () => {
          const missing = deps.filter((d) => !seen.has(d.service.name));
          settle(`after ${timeout} ms, not yet ${waitFor}: ${missing.map((d) => describe(d.service)).join('; ')}`);
        });
  offs.push(cmd.onChange(check));
  for (const d of deps) offs.push(d.service.onChange(check));
  check();
}

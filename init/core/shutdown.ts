// The shutdown sequence. Every step is contained: a step that fails is
// reported and the sequence goes on, because the machine must still power
// off. The order is fixed: what keel runs is stopped by its owners first,
// then the stragglers get SIGTERM, a grace period, SIGKILL, and only then
// are filesystems synced and unmounted. The whole sequence has a deadline:
// an owner still stopping when it passes is given up on (and named), the
// stragglers get SIGKILL at once, and the machine powers off.
import type { KeelEventInput } from '../../events/bus.js';
import type { PowerAction } from './signals.js';
import { sleepOn, systemClock } from '../../services/clock.js';

export interface StopHook {
  name: string;
  run: () => Promise<void>;
  /** What is still being stopped, to name it if the deadline passes. */
  pending?: () => string[];
}

export interface ShutdownDeps {
  /** Owners of running work (services, onshutdown), in the order to stop them. */
  stopHooks: StopHook[];
  /** Sends a signal to every process left; returns how many were signalled. */
  signalAll(signal: 'SIGTERM' | 'SIGKILL'): number;
  /** Pids of processes still alive (zombies excluded). */
  remaining(): number[];
  /** Milliseconds between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Milliseconds the whole shutdown may take before keel kills what remains and powers off. */
  deadlineMs: number;
  /** The grace is cut to what is left of the deadline (at least 500 ms): a container's init must end inside its engine's own grace. */
  graceWithinDeadline?: boolean;
  sync(): void;
  /** Unmounts writable filesystems; returns a description of what it did. */
  unmount(): string;
  /** Ends it: reboot(2) on a machine, process exit elsewhere; `inTime` says whether every owner stopped before the deadline. */
  finish(action: PowerAction, inTime: boolean): void;
  emit(event: KeelEventInput): void;
  sleep?: (ms: number) => Promise<void>;
  /** Lets answers already given (to "keel poweroff" over the VM control channel) leave before the power goes. */
  flushReplies?: () => Promise<void>;
}

// The deadline can be longer than one Node timer can wait (2^31-1 ms): the system clock chains them.
const defaultSleep = sleepOn(systemClock);

async function waitGone(deps: ShutdownDeps, ms: number): Promise<number[]> {
  const sleep = deps.sleep ?? defaultSleep;
  const deadline = performance.now() + ms;
  let left = deps.remaining();
  while (left.length > 0 && performance.now() < deadline) {
    await sleep(Math.min(50, Math.max(1, deadline - performance.now())));
    left = deps.remaining();
  }
  return left;
}

function step(deps: ShutdownDeps, name: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    deps.emit({ kind: 'shutdown.error', level: 'error', message: `shutdown: ${name} failed: ${(err as Error).message}`, step: name });
  }
}

/** Runs the stop hooks in order within `ms`; false when the deadline passed with one still running (it is named). */
async function runHooks(deps: ShutdownDeps, ms: number): Promise<boolean> {
  const sleep = deps.sleep ?? defaultSleep;
  const deadline = performance.now() + ms;
  for (const [i, hook] of deps.stopHooks.entries()) {
    const finished = hook.run().then(
      () => true,
      (err: unknown) => {
        deps.emit({ kind: 'shutdown.error', level: 'error', message: `shutdown: stopping ${hook.name} failed: ${(err as Error).message}`, step: hook.name });
        return true;
      },
    );
    if (await Promise.race([finished, sleep(Math.max(0, deadline - performance.now())).then(() => false)])) continue;
    const still = hook.pending?.() ?? [];
    const skipped = deps.stopHooks.slice(i + 1).map((h) => h.name);
    deps.emit({
      kind: 'shutdown.deadline',
      level: 'error',
      message: `shutdown: ${hook.name} still not stopped ${ms} ms after shutdown began${still.length ? ` (${still.join(', ')})` : ''}; giving up on it${skipped.length ? ` and skipping ${skipped.join(', ')}` : ''}, killing what remains`,
      step: hook.name,
      pending: still,
      skipped,
    });
    return false;
  }
  return true;
}

export async function runShutdown(action: PowerAction, deps: ShutdownDeps): Promise<void> {
  const started = performance.now();
  deps.emit({ kind: 'shutdown.begin', message: `shutting down (${action})`, action });
  const inTime = await runHooks(deps, deps.deadlineMs);

  let termed = 0;
  const signal = inTime ? 'SIGTERM' : 'SIGKILL';
  step(deps, signal, () => (termed = deps.signalAll(signal)));
  if (termed > 0) {
    deps.emit({ kind: 'shutdown.signal', message: `sent ${signal} to ${termed} remaining process(es)`, signal, count: termed });
    const grace = deps.graceWithinDeadline ? Math.min(deps.graceMs, Math.max(500, started + deps.deadlineMs - performance.now())) : deps.graceMs;
    const left = await waitGone(deps, inTime ? grace : 2000);
    if (left.length > 0 && inTime) {
      let killed = 0;
      step(deps, 'SIGKILL', () => (killed = deps.signalAll('SIGKILL')));
      deps.emit({
        kind: 'shutdown.signal',
        level: 'warn',
        message: `sent SIGKILL to ${killed} process(es) still running after ${grace} ms (pids ${left.slice(0, 10).join(' ')})`,
        signal: 'SIGKILL',
        count: killed,
        pids: left,
      });
      await waitGone(deps, 2000);
    }
  }

  if (deps.flushReplies) {
    try {
      await deps.flushReplies();
    } catch {
      /* a reply that cannot leave does not hold up the power-off */
    }
  }
  step(deps, 'sync', () => deps.sync());
  step(deps, 'unmount', () => {
    const what = deps.unmount();
    if (what) deps.emit({ kind: 'shutdown.unmount', message: what });
  });
  const took = Math.round(performance.now() - started);
  deps.emit({ kind: 'shutdown.end', message: `${action} now (shutdown took ${took} ms)`, action, ms: took });
  deps.finish(action, inTime);
}

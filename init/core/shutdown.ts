// The shutdown sequence. Every step is contained: a step that fails is
// reported and the sequence goes on, because the machine must still power
// off. The order is fixed: what keel runs is stopped by its owners first,
// then the stragglers get SIGTERM, a grace period, SIGKILL, and only then
// are filesystems synced and unmounted.
import type { KeelEventInput } from '../../events/bus.js';
import type { PowerAction } from './signals.js';

export interface StopHook {
  name: string;
  run: () => Promise<void>;
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
  sync(): void;
  /** Unmounts writable filesystems; returns a description of what it did. */
  unmount(): string;
  /** Ends it: reboot(2) on a machine, process exit elsewhere. */
  finish(action: PowerAction): void;
  emit(event: KeelEventInput): void;
  sleep?: (ms: number) => Promise<void>;
  /** Lets answers already given (to "keel poweroff" over the VM control channel) leave before the power goes. */
  flushReplies?: () => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitGone(deps: ShutdownDeps, ms: number): Promise<number[]> {
  const sleep = deps.sleep ?? defaultSleep;
  const deadline = Date.now() + ms;
  let left = deps.remaining();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
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

export async function runShutdown(action: PowerAction, deps: ShutdownDeps): Promise<void> {
  const started = Date.now();
  deps.emit({ kind: 'shutdown.begin', message: `shutting down (${action})`, action });

  for (const hook of deps.stopHooks) {
    try {
      await hook.run();
    } catch (err) {
      deps.emit({ kind: 'shutdown.error', level: 'error', message: `shutdown: stopping ${hook.name} failed: ${(err as Error).message}`, step: hook.name });
    }
  }

  let termed = 0;
  step(deps, 'SIGTERM', () => (termed = deps.signalAll('SIGTERM')));
  if (termed > 0) {
    deps.emit({ kind: 'shutdown.signal', message: `sent SIGTERM to ${termed} remaining process(es)`, signal: 'SIGTERM', count: termed });
    const left = await waitGone(deps, deps.graceMs);
    if (left.length > 0) {
      let killed = 0;
      step(deps, 'SIGKILL', () => (killed = deps.signalAll('SIGKILL')));
      deps.emit({
        kind: 'shutdown.signal',
        level: 'warn',
        message: `sent SIGKILL to ${killed} process(es) still running after ${deps.graceMs} ms (pids ${left.slice(0, 10).join(' ')})`,
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
  deps.emit({ kind: 'shutdown.end', message: `${action} now (shutdown took ${Date.now() - started} ms)`, action, ms: Date.now() - started });
  deps.finish(action);
}

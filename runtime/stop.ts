// Stopping a run, the one way keel does it: a signal to the container's
// init, a grace period, then SIGKILL to every process in the container, and
// the outcome once it is gone. Services (stopSignal, stopTimeout), onboot
// timeouts and the runtime's own clean-up all stop containers through this.
import type { RunningContainer } from './engine.js';
import type { Outcome } from './outcome.js';

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref?.());

export interface StopOptions {
  sleep?: Sleep;
  /** The first signal goes to every process in the container, not only its init. */
  all?: boolean;
  /** Called when the grace period ends with the container still running, just before SIGKILL. */
  onEscalate?: () => void;
}

export async function stopContainer(run: Pick<RunningContainer, 'signal' | 'done'>, signal: NodeJS.Signals, graceMs: number, opts: StopOptions = {}): Promise<Outcome> {
  const sleep = opts.sleep ?? realSleep;
  // A container that is already gone is not an error for whoever wants it gone.
  await run.signal(signal, opts.all ?? false).catch(() => undefined);
  const ended = await Promise.race([run.done, sleep(graceMs).then(() => undefined)]);
  if (ended) return ended;
  opts.onEscalate?.();
  await run.signal('SIGKILL', true).catch(() => undefined);
  return run.done;
}

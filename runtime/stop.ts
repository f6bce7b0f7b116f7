// Stopping a run, the one way keel does it: a signal to the container's
// init, a grace period, then SIGKILL to every process in the container, and
// the outcome once it is gone. Services (stopSignal, stopTimeout), onboot
// timeouts and the runtime's own clean-up all stop containers through this.
// Every wait is bounded: a container that outlives SIGKILL by KILL_WAIT_MS
// (a process stuck in the kernel) is given up on, and the caller says so.
import type { RunningContainer } from './engine.js';
import type { Outcome } from './outcome.js';

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref?.());

/** How long a container gets to be gone (its init reaped, no process left) after SIGKILL. */
export const KILL_WAIT_MS = 10_000;

export interface StopOptions {
  sleep?: Sleep;
  /** The first signal goes to every process in the container, not only its init. */
  all?: boolean;
  /** Called when the grace period ends with the container still running, just before SIGKILL. */
  onEscalate?: () => void;
}

/** The outcome once the container is gone (its clean-up is the run's `done`), or undefined when it was still there KILL_WAIT_MS after SIGKILL. */
export async function stopContainer(run: Pick<RunningContainer, 'signal' | 'exited'>, signal: NodeJS.Signals, graceMs: number, opts: StopOptions = {}): Promise<Outcome | undefined> {
  const sleep = opts.sleep ?? realSleep;
  const within = (ms: number) => Promise.race([run.exited, sleep(ms).then(() => undefined)]);
  // A container that is already gone is not an error for whoever wants it gone.
  await run.signal(signal, opts.all ?? false).catch(() => undefined);
  const ended = await within(graceMs);
  if (ended) return ended;
  opts.onEscalate?.();
  await run.signal('SIGKILL', true).catch(() => undefined);
  return within(KILL_WAIT_MS);
}

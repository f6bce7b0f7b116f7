// A service's states and the only moves between them. Every transition is
// checked against this table; a move it does not list is a bug in keel and
// is refused loudly rather than leaving a service in a state nobody planned.
//
//   waiting ─► starting ─► running ─► ready ─┐
//                 │           │              ├─► (exit) ─► backoff ─► starting …
//                 │           └──────────────┘         └─► completed | failed
//                 └─► backoff | failed  (could not start)
//   backoff ─► failed   (the start limit refused the retry: the wall clock stepped back)
//   any resting or running state ─► stopping ─► stopped   (keel stop, shutdown)
//   completed | failed | stopped ─► starting               (keel start, keel reset)

export type ServiceState = 'waiting' | 'starting' | 'running' | 'ready' | 'stopping' | 'backoff' | 'completed' | 'failed' | 'stopped';

export const TRANSITIONS: Readonly<Record<ServiceState, readonly ServiceState[]>> = {
  waiting: ['starting', 'stopped'],
  starting: ['running', 'backoff', 'failed', 'stopped'],
  running: ['ready', 'stopping', 'backoff', 'completed', 'failed', 'stopped'],
  ready: ['stopping', 'backoff', 'completed', 'failed', 'stopped'],
  stopping: ['stopped'],
  backoff: ['starting', 'failed', 'stopped'],
  completed: ['starting', 'stopped'],
  failed: ['starting', 'stopped'],
  stopped: ['starting'],
};

/** A container of this attempt exists (its pid means something). */
export const HAS_CONTAINER: readonly ServiceState[] = ['running', 'ready', 'stopping'];
/** Nothing runs and nothing is scheduled: a start may begin from here. */
export const AT_REST: readonly ServiceState[] = ['waiting', 'backoff', 'completed', 'failed', 'stopped'];

export class TransitionError extends Error {
  override name = 'TransitionError';
}

export function checkTransition(service: string, from: ServiceState, to: ServiceState): void {
  if (!TRANSITIONS[from].includes(to)) throw new TransitionError(`service ${service}: no transition from ${from} to ${to}`);
}

// One vocabulary for how a run ended. The reaper gives an ExitStatus; the
// runtime adds what the cgroup saw (OOM kills) and whether keel cut it short,
// and that Outcome is what onboot, onshutdown and services all judge and
// report, with one definition of failure and one description.

/** What waitpid says of a process. */
export interface ExitStatus {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How one run of a container ended, everything it held released. */
export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The container's init was killed by the OOM killer. */
  oomKilled: boolean;
  /** Processes of the container the OOM killer killed (the init or others). */
  oomKills: number;
  /** keel killed it for running past its timeout. */
  timedOut: boolean;
  /** It could not be started at all; the message says why. */
  error?: string;
}

export function startFailure(message: string): Outcome {
  return { code: null, signal: null, oomKilled: false, oomKills: 0, timedOut: false, error: message };
}

/**
 * A run failed when it could not start, exited non-zero, died of a signal,
 * ran past its timeout, or the OOM killer struck anything in it (even a
 * child whose parent then exited 0: the work it was doing is lost).
 */
export function isFailure(o: Outcome): boolean {
  return o.error !== undefined || o.timedOut || o.oomKills > 0 || o.signal !== null || o.code !== 0;
}

/** "exited 3", "was killed by SIGTERM", "was killed by the OOM killer (SIGKILL)", … */
export function describeOutcome(o: Outcome): string {
  if (o.error !== undefined) return `failed to start: ${o.error}`;
  const how = o.oomKilled
    ? `was killed by the OOM killer (${o.signal ?? 'SIGKILL'})`
    : o.timedOut
      ? `timed out and was killed${o.signal ? ` (${o.signal})` : ''}`
      : o.signal
        ? `was killed by ${o.signal}`
        : `exited ${o.code}`;
  const note = !o.oomKilled && o.oomKills > 0 ? ` (the OOM killer killed ${o.oomKills} of its processes)` : '';
  return how + note;
}

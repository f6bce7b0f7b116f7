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
  /** Forks refused because it was at its pids limit. */
  pidsLimitHits?: number;
  /** It outlived SIGKILL (a process stuck in the kernel): keel stopped waiting for it. */
  abandoned?: boolean;
  /** It could not be started at all; the message says why. */
  error?: string;
}

/** What is known of a run keel gave up waiting for after SIGKILL. */
export function abandonedRun(timedOut = false): Outcome {
  return { code: null, signal: null, oomKilled: false, oomKills: 0, timedOut, abandoned: true };
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
  return o.error !== undefined || o.abandoned === true || o.timedOut || o.oomKills > 0 || o.signal !== null || o.code !== 0;
}

/** "exited 3", "was killed by SIGTERM", "was killed by the OOM killer (SIGKILL)", … */
export function describeOutcome(o: Outcome): string {
  if (o.error !== undefined) return `failed to start: ${o.error}`;
  if (o.abandoned) return `${o.timedOut ? 'timed out and ' : ''}did not exit after SIGKILL; keel gave up waiting for it`;
  const how = o.oomKilled
    ? `was killed by the OOM killer (${o.signal ?? 'SIGKILL'})`
    : o.timedOut
      ? `timed out and was killed${o.signal ? ` (${o.signal})` : ''}`
      : o.signal
        ? `was killed by ${o.signal}`
        : `exited ${o.code}`;
  const notes: string[] = [];
  if (!o.oomKilled && o.oomKills > 0) notes.push(`the OOM killer killed ${o.oomKills} of its processes`);
  if (o.pidsLimitHits) notes.push(`${o.pidsLimitHits} fork(s) refused at its pids limit`);
  return how + (notes.length ? ` (${notes.join('; ')})` : '');
}

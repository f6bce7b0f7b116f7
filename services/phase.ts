// onboot and onshutdown: containers run one after another, each to
// completion, each with an optional timeout. A failure is reported with how
// it ended and the last lines of its log, and the phase goes on, unless the
// entry is critical (onboot only), or keel shuts down (onboot: the running
// entry is stopped, no other starts). Whatever happens, nothing is left behind.
import { join } from 'node:path';
import type { ContainerEntry } from '../model/index.js';
import { statePaths } from '../model/layout.js';
import { clip, MAX_FIELD_TEXT, type KeelEventInput } from '../events/bus.js';
import { containerId, phaseIds, type Phase } from '../runtime/bundle.js';
import type { ContainerEngine, RunningContainer, StreamName } from '../runtime/engine.js';
import { abandonedRun, describeOutcome, isFailure, startFailure, type Outcome } from '../runtime/outcome.js';
import { stopContainer } from '../runtime/stop.js';
import { sleepOn, systemClock, type Clock } from './clock.js';

export type RunPhase = Exclude<Phase, 'services'>;

export interface PhaseDeps {
  engine: ContainerEngine;
  emit: (event: KeelEventInput) => void;
  /** Each entry's output is also kept in STATE_DIR/logs/PHASE.NAME.log. */
  stateDir: string;
  /** Each line a container writes, for the console. */
  onLine?: (name: string, stream: StreamName, line: string) => void;
  /** The entry has ended: its output, all of it in `logFile`, is complete. */
  onEnd?: (name: string, logFile: string) => void;
  clock?: Clock;
  /** Aborted when keel shuts down: the running entry is stopped and no other starts (onboot). */
  abort?: AbortSignal;
}

/** How long an entry stopped by a shutdown gets between SIGTERM and SIGKILL. */
export const ABORT_GRACE_MS = 3000;

/** Resolves when `signal` is aborted (at once if it already is). */
function whenAborted(signal: AbortSignal): Promise<'abort'> {
  return new Promise((resolve) => (signal.aborted ? resolve('abort') : signal.addEventListener('abort', () => resolve('abort'), { once: true })));
}

export interface EntryResult extends Outcome {
  name: string;
  durationMs: number;
  logTail: string[];
  logFile: string;
}

const TAIL = 10;

/** Starts the entry, or gives the outcome of a start that failed. */
async function startEntry(id: string, entry: ContainerEntry, deps: PhaseDeps, logFile: string, tail: string[]): Promise<RunningContainer | Outcome> {
  try {
    const plan = deps.engine.plan({ id, entry });
    const onLine = (stream: StreamName, line: string) => {
      tail.push(clip(line, MAX_FIELD_TEXT));
      if (tail.length > TAIL) tail.shift();
      deps.onLine?.(entry.name, stream, line);
    };
    return await deps.engine.start(plan, { onLine, file: logFile });
  } catch (err) {
    return startFailure((err as Error).message);
  }
}

/** Runs one container to completion. Never throws: every outcome is a result. */
export async function runToCompletion(phase: RunPhase, entry: ContainerEntry, deps: PhaseDeps, id = containerId(phase, entry.name)): Promise<EntryResult> {
  const clock = deps.clock ?? systemClock;
  const started = clock.monotonic();
  const logFile = join(statePaths(deps.stateDir).logs, `${id}.log`);
  const tail: string[] = [];
  deps.emit({ kind: `${phase}.started`, message: `${phase} ${entry.name} starting`, phase, name: entry.name });
  const run = await startEntry(id, entry, deps, logFile, tail);
  let outcome: Outcome;
  if (!('done' in run)) outcome = run;
  else {
    const ends: Array<Promise<'timeout' | 'abort'>> = [];
    if (entry.timeout !== undefined) ends.push(sleepOn(clock)(entry.timeout).then(() => 'timeout' as const));
    if (deps.abort) ends.push(whenAborted(deps.abort));
    const first = ends.length > 0 ? await Promise.race([run.done, ...ends]) : await run.done;
    if (first === 'timeout') {
      deps.emit({ kind: `${phase}.timeout`, level: 'warn', message: `${phase} ${entry.name} still running after ${entry.timeout} ms: killing it`, phase, name: entry.name });
      const gone = await stopContainer(run, 'SIGKILL', 0, { all: true, sleep: sleepOn(clock) });
      if (gone) await run.done; // its clean-up, before the next entry
      outcome = { ...(gone ?? abandonedRun()), timedOut: true };
    } else if (first === 'abort') {
      deps.emit({ kind: `${phase}.stopping`, level: 'warn', message: `${phase} ${entry.name} is stopped: keel is shutting down (SIGTERM, then SIGKILL after ${ABORT_GRACE_MS} ms)`, phase, name: entry.name });
      const gone = await stopContainer(run, 'SIGTERM', ABORT_GRACE_MS, { all: true, sleep: sleepOn(clock) });
      if (gone) await run.done;
      outcome = gone ?? abandonedRun();
    } else outcome = first;
  }
  deps.onEnd?.(entry.name, logFile);
  const result: EntryResult = { ...outcome, name: entry.name, durationMs: clock.monotonic() - started, logTail: [...tail], logFile };
  report(phase, result, deps);
  return result;
}

function report(phase: RunPhase, r: EntryResult, deps: PhaseDeps): void {
  const bad = isFailure(r);
  const took = r.error !== undefined ? '' : ` in ${r.durationMs} ms`;
  deps.emit({
    kind: r.error !== undefined ? `${phase}.failed` : `${phase}.exited`,
    level: bad ? 'error' : 'info',
    message: `${phase} ${r.name} ${describeOutcome(r)}${took}` + (bad && r.logTail.length ? `\nlast lines of its log (${r.logFile}):\n${r.logTail.map((l) => `  | ${l}`).join('\n')}` : ''),
    phase,
    name: r.name,
    code: r.code,
    signal: r.signal,
    oomKilled: r.oomKilled,
    oomKills: r.oomKills,
    timedOut: r.timedOut,
    durationMs: r.durationMs,
    ...(r.error !== undefined ? { error: r.error } : {}),
  });
}

export interface PhaseResult {
  results: EntryResult[];
  /** The critical entry that failed and stopped the phase, if any. */
  criticalFailure?: EntryResult;
}

export async function runPhase(phase: RunPhase, entries: readonly ContainerEntry[], deps: PhaseDeps): Promise<PhaseResult> {
  const results: EntryResult[] = [];
  const ids = phaseIds(phase, entries.map((e) => e.name));
  for (const [i, entry] of entries.entries()) {
    if (deps.abort?.aborted) {
      const left = entries.slice(i).map((e) => e.name);
      deps.emit({ kind: `${phase}.skipped`, level: 'warn', message: `${phase}: not run, keel is shutting down: ${left.join(', ')}`, phase, names: left });
      break;
    }
    const r = await runToCompletion(phase, entry, deps, ids[i]);
    results.push(r);
    // critical stops boot; at shutdown every onshutdown entry still gets its turn.
    if (isFailure(r) && entry.critical && phase === 'onboot' && !deps.abort?.aborted) return { results, criticalFailure: r };
  }
  return { results };
}

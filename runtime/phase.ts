// onboot and onshutdown: containers run one after another, each to
// completion, each with an optional timeout. A failure is reported with its
// exit code and the last lines of its log, and the phase goes on, unless the
// entry is critical. Whatever happens, nothing is left behind: no process,
// no runc state, no mount, no cgroup.
import { join } from 'node:path';
import type { ContainerEntry } from '../model/index.js';
import { containerId, type Phase } from './bundle.js';
import { ContainerLog, type StreamName } from './container-log.js';
import { ContainerRun, sleep, type RunDeps } from './container-run.js';
import type { RuntimeEvent } from './events.js';
import type { ExitStatus } from './host.js';

export interface PhaseDeps extends RunDeps {
  emit: (event: RuntimeEvent) => void;
  /** Each line a container writes, for the console. */
  onLine?: (name: string, stream: StreamName, line: string) => void;
}

export interface EntryResult {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The container's init was killed by the OOM killer. */
  oomKilled: boolean;
  /** Processes of the container the OOM killer killed (the init or others). */
  oomKills: number;
  timedOut: boolean;
  /** Set when the container could not be started at all. */
  error?: string;
  durationMs: number;
  logTail: string[];
  logFile: string;
}

export function failed(r: EntryResult): boolean {
  return r.error !== undefined || r.timedOut || r.oomKilled || r.oomKills > 0 || r.code !== 0;
}


function describe(phase: Phase, r: EntryResult): string {
  const took = `${r.durationMs} ms`;
  if (r.error) return `${phase} ${r.name} failed to start: ${r.error}`;
  const oomNote = !r.oomKilled && r.oomKills > 0 ? ` (the OOM killer killed ${r.oomKills} of its processes)` : '';
  const how = r.oomKilled
    ? `was killed by the OOM killer (memory limit), ${r.signal}`
    : r.timedOut
      ? `timed out and was killed${r.signal ? ` (${r.signal})` : ''}`
      : r.signal
        ? `was killed by ${r.signal}`
        : `exited ${r.code}`;
  return `${phase} ${r.name} ${how} in ${took}${oomNote}`;
}

/** Runs one container to completion. Never throws: every outcome is a result. */
export async function runToCompletion(phase: Phase, entry: ContainerEntry, deps: PhaseDeps): Promise<EntryResult> {
  const started = Date.now();
  const id = containerId(phase, entry.name);
  const logFile = join(deps.stateDir, 'logs', `${id}.log`);
  const log = new ContainerLog(logFile, (stream, line) => deps.onLine?.(entry.name, stream, line));
  const result: EntryResult = { name: entry.name, code: null, signal: null, oomKilled: false, oomKills: 0, timedOut: false, durationMs: 0, logTail: [], logFile };
  const run = new ContainerRun(phase, entry, deps, log);
  deps.emit({ kind: `${phase}.started`, message: `${phase} ${entry.name} starting`, phase, name: entry.name });
  try {
    await run.start();
    let status: ExitStatus | 'timeout' = entry.timeout !== undefined ? await Promise.race([run.exited!, sleep(entry.timeout)]) : await run.exited!;
    if (status === 'timeout') {
      result.timedOut = true;
      deps.emit({ kind: `${phase}.timeout`, level: 'warn', message: `${phase} ${entry.name} still running after ${entry.timeout} ms: killing it`, phase, name: entry.name });
      await run.kill('SIGKILL', true);
      status = await run.exited!;
    }
    result.code = status.code;
    result.signal = status.signal;
  } catch (err) {
    result.error = (err as Error).message;
  }
  const oom = await run.cleanup();
  if (!result.error) {
    result.oomKills = oom.oomKills;
    result.oomKilled = oom.oomKilled;
  }
  log.close();
  result.durationMs = Date.now() - started;
  result.logTail = log.lastLines();
  const bad = failed(result);
  deps.emit({
    kind: result.error ? `${phase}.failed` : `${phase}.exited`,
    level: bad ? 'error' : 'info',
    message: describe(phase, result) + (bad && result.logTail.length ? `\nlast lines of its log (${logFile}):\n${result.logTail.slice(-10).map((l) => `  | ${l}`).join('\n')}` : ''),
    phase,
    name: entry.name,
    code: result.code,
    signal: result.signal,
    oomKilled: result.oomKilled,
    oomKills: result.oomKills,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    ...(result.error ? { error: result.error } : {}),
  });
  return result;
}

export interface PhaseResult {
  results: EntryResult[];
  /** The critical entry that failed and stopped the phase, if any. */
  criticalFailure?: EntryResult;
}

export async function runPhase(phase: Phase, entries: readonly ContainerEntry[], deps: PhaseDeps): Promise<PhaseResult> {
  const results: EntryResult[] = [];
  for (const entry of entries) {
    const r = await runToCompletion(phase, entry, deps);
    results.push(r);
    // critical stops boot; at shutdown every onshutdown entry still gets its turn.
    if (failed(r) && entry.critical && phase === 'onboot') return { results, criticalFailure: r };
  }
  return { results };
}

// onboot and onshutdown: containers run one after another, each to
// completion, each with an optional timeout. A failure is reported with its
// exit code and the last lines of its log, and the phase goes on, unless the
// entry is critical. Whatever happens, nothing is left behind: no process,
// no runc state, no mount, no cgroup.
import { join } from 'node:path';
import type { ContainerEntry } from '../pkg/manifest/index.js';
import { containerId, prepareBundle, type Bundle, type Phase } from './bundle.js';
import { oomKills, removeCgroup } from './cgroups.js';
import { ContainerLog, type StreamName } from './container-log.js';
import type { RuntimeEvent } from './events.js';
import type { ExitStatus, Host } from './host.js';
import { afterCreate, beforeCreate } from './host-prep.js';
import type { ContainerDriver, Created } from './runc.js';

export interface PhaseDeps {
  driver: ContainerDriver;
  host: Host;
  stateDir: string;
  baseDir: string;
  idOf: (name: string) => number | undefined;
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

const sleep = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms));

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
  let bundle: Bundle | undefined;
  let created: Created | undefined;
  let streams: Promise<void[]> | undefined;
  deps.emit({ kind: `${phase}.started`, message: `${phase} ${entry.name} starting`, phase, name: entry.name });
  try {
    bundle = prepareBundle({ entry, phase, baseDir: deps.baseDir, stateDir: deps.stateDir, host: deps.host, idOf: deps.idOf });
    beforeCreate(bundle.runtime, deps.host);
    // Interfaces and namespace binds need the container created but not started; without them one runc call does both.
    const between = bundle.runtime.interfaces.length > 0 || Object.values(bundle.runtime.bindNS).some(Boolean);
    created = await deps.driver.create(
      id,
      bundle.dir,
      (stdout, stderr) => (streams = Promise.all([log.attach(stdout, 'stdout'), log.attach(stderr, 'stderr')])),
      !between,
    );
    if (between) {
      await afterCreate(bundle.runtime, created.pid, deps.host);
      await deps.driver.start(id);
    }

    let status: ExitStatus | 'timeout' = entry.timeout !== undefined ? await Promise.race([created.exited, sleep(entry.timeout)]) : await created.exited;
    if (status === 'timeout') {
      result.timedOut = true;
      deps.emit({ kind: `${phase}.timeout`, level: 'warn', message: `${phase} ${entry.name} still running after ${entry.timeout} ms: killing it`, phase, name: entry.name });
      await deps.driver.kill(id, 'SIGKILL', true);
      status = await created.exited;
    }
    result.code = status.code;
    result.signal = status.signal;
  } catch (err) {
    result.error = (err as Error).message;
    if (created) {
      // Started half-way: make sure the init is gone and reaped before cleaning up.
      await deps.driver.kill(id, 'SIGKILL', true).catch(() => undefined);
      await Promise.race([created.exited, sleep(5000)]);
    }
  }
  if (bundle && !result.error) {
    result.oomKills = oomKills(bundle.spec.linux.cgroupsPath);
    result.oomKilled = result.oomKills > 0 && result.signal === 'SIGKILL';
  }
  if (streams) {
    // The pipes close when the last process holding them exits; one that outlives the init is cut off.
    if ((await Promise.race([streams, sleep(2000)])) === 'timeout') log.detach();
  }
  await deps.driver.delete(id, true).catch((err: Error) =>
    deps.emit({ kind: `${phase}.cleanup`, level: 'warn', message: `${phase} ${entry.name}: ${err.message}`, phase, name: entry.name }),
  );
  if (bundle) {
    removeCgroup(bundle.spec.linux.cgroupsPath);
    bundle.release();
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
    if (failed(r) && entry.critical) return { results, criticalFailure: r };
  }
  return { results };
}

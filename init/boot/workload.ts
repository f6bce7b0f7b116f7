// The stages that run the manifest: read it, announce the plan, find runc,
// run onboot, start the services, and say that boot is complete.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ManifestError, type Manifest } from '../../model/index.js';
import { RuncEngine } from '../../runtime/container-run.js';
import { describeOutcome, isFailure } from '../../runtime/outcome.js';
import { Runc, runcVersion } from '../../runtime/runc.js';
import { runPhase, type PhaseDeps } from '../../services/phase.js';
import { Supervisor } from '../../services/supervisor.js';
import { enterEmergency } from '../core/emergency.js';
import { notifyHub } from '../core/notify-hub.js';
import type { Reaper } from '../core/reaper.js';
import { runtimeHost } from '../core/runtime-host.js';
import { setHostname } from '../machine/setup.js';
import { ContainerRelay } from './console.js';
import type { BootBase } from './context.js';
import { readManifest } from './manifest-reader.js';
import { bootPlan } from './plan.js';
import { BootStopped } from './stages.js';
import { uptimeMs } from './record.js';

export async function manifestStage({ bus, args }: BootBase): Promise<{ manifest: Manifest | undefined }> {
  try {
    return { manifest: await readManifest(args.manifest) };
  } catch (err) {
    if (err instanceof ManifestError) enterEmergency(bus, `the manifest ${args.manifest} is not valid`, err.message.split('\n'));
    else enterEmergency(bus, `the manifest ${args.manifest} could not be loaded: ${(err as Error).message}`);
    return { manifest: undefined };
  }
}

/** Boot goes on only with a manifest; the plan says what is about to happen. */
export function planStage({ bus, args, sys, machine, power, manifest }: BootBase & { manifest: Manifest | undefined }): { manifest: Manifest } {
  if (!manifest) throw new BootStopped();
  try {
    bus.emit({ kind: 'boot.plan', message: bootPlan(manifest, readFileSync(args.manifest, 'utf8'), args.manifest) });
  } catch {
    /* the plan is a courtesy; boot goes on */
  }
  power.setTimes(manifest.shutdown);
  if (machine) setHostname(sys, manifest.hostname, (e) => bus.emit(e));
  return { manifest };
}

/** Container names can stand for ids (uid: other-container): 100 and up, in manifest order. */
function idsByName(manifest: Manifest): Map<string, number> {
  const ids = new Map<string, number>();
  for (const c of [...manifest.onboot, ...manifest.services, ...manifest.onshutdown]) if (!ids.has(c.name)) ids.set(c.name, 100 + ids.size);
  return ids;
}

export interface Workload {
  supervisor: Supervisor;
  phaseDeps: PhaseDeps;
}

/** runc, and what runs on it: the engine, the supervisor, and their stop hooks (services, then onshutdown). */
export async function runtimeStage(ctx: BootBase & { manifest: Manifest; reaper: Reaper }): Promise<{ workload: Workload | undefined }> {
  const { bus, manifest, paths, power } = ctx;
  const runc = await runcVersion();
  const containers = manifest.onboot.length + manifest.services.length + manifest.onshutdown.length;
  if (!runc && containers > 0) {
    enterEmergency(bus, 'runc was not found in PATH, and the manifest has containers', ['fix: install runc in the image (the runc package on Debian)']);
    throw new BootStopped();
  }
  if (!runc) {
    bus.emit({ kind: 'runtime.missing', level: 'warn', message: 'runc was not found in PATH (no containers in this manifest need it)' });
    return { workload: undefined };
  }
  bus.emit({ kind: 'runtime.found', message: `runc ${runc.version}`, runtime: 'runc', version: runc.version });
  const host = runtimeHost(ctx.sys, ctx.reaper);
  const ids = idsByName(manifest);
  const emit = bus.emit.bind(bus);
  const engine = new RuncEngine({
    driver: new Runc(paths.runcRoot, host),
    host,
    stateDir: paths.dir,
    baseDir: dirname(resolve(ctx.args.manifest)),
    idOf: (name) => ids.get(name),
    warn: (message) => emit({ kind: 'runtime.fallback', level: 'warn', message }),
  });
  // Container output is not an event: onboot and onshutdown lines go straight to the console, a service's to its log ring.
  const relay = new ContainerRelay((text) => ctx.console.write(text));
  const phaseDeps: PhaseDeps = { engine, emit, stateDir: paths.dir, onLine: (name, _stream, line) => relay.line(name, line), onEnd: (name, logFile) => relay.flush(name, logFile) };
  const supervisor = new Supervisor(manifest.services, { engine, emit, stateDir: paths.dir, notifyHub: notifyHub(ctx.sys, paths.dir) });
  ctx.supervisor.set(supervisor);
  // Registered before onboot runs: a shutdown from the emergency state after a failed critical entry still runs onshutdown.
  power.addStopHook({ name: 'services', run: () => supervisor.stopAll(), pending: () => supervisor.stillRunning() });
  power.addStopHook({ name: 'onshutdown', run: async () => void (await runPhase('onshutdown', manifest.onshutdown, phaseDeps)) });
  return { workload: { supervisor, phaseDeps } };
}

export async function onbootStage({ bus, manifest, record, workload }: BootBase & { manifest: Manifest; workload: Workload | undefined }): Promise<object> {
  if (!workload) return {};
  const onboot = await runPhase('onboot', manifest.onboot, workload.phaseDeps);
  record.onbootResults(onboot.results);
  const bad = onboot.results.filter(isFailure).length;
  if (manifest.onboot.length > 0) {
    bus.emit({ kind: 'onboot.done', level: bad ? 'warn' : 'info', message: `onboot: ${onboot.results.length} ran, ${bad} failed`, ran: onboot.results.length, failed: bad });
  }
  const f = onboot.criticalFailure;
  if (f) {
    enterEmergency(bus, `the critical onboot entry ${f.name} failed`, [`it ${describeOutcome(f)}`, ...f.logTail.map((l) => `  | ${l}`), `its log: ${f.logFile}`]);
    throw new BootStopped();
  }
  return {};
}

export function servicesStage({ bus, manifest, record, power, machine, workload }: BootBase & { manifest: Manifest; workload: Workload | undefined }): object {
  if (!workload || power.shuttingDown || manifest.services.length === 0) return {};
  const { supervisor } = workload;
  supervisor.startAll();
  const n = manifest.services.length;
  void supervisor.allReady().then(({ ready, neverReady }) => {
    record.servicesReadyAt = Date.now();
    const up = machine ? uptimeMs() : undefined;
    const when = `${(supervisor.readyAt ?? record.servicesReadyAt) - record.startedAt} ms after keel started${up !== undefined ? ` (${up} ms after kernel start)` : ''}`;
    if (neverReady.length === 0) bus.emit({ kind: 'services.ready', message: `all ${n} service(s) ready ${when}`, count: n });
    else bus.emit({ kind: 'services.ready', level: 'warn', message: `services settled ${when}: ${ready} of ${n} ready; never ready: ${neverReady.join(', ')}`, count: n, neverReady });
  });
  return {};
}

/** Test-only fault injection (KEEL_INJECT_FAULT=uncaught,rejection): provokes the faults the guard must contain. */
function injectFaults(): void {
  const faults = (process.env.KEEL_INJECT_FAULT ?? '').split(',');
  if (faults.includes('uncaught')) setTimeout(() => { throw new Error('injected uncaught exception'); }, 10);
  if (faults.includes('rejection')) setTimeout(() => void Promise.reject(new Error('injected unhandled rejection')), 10);
}

export function completeStage({ bus, record, machine }: BootBase): object {
  record.completeAt = Date.now();
  const up = machine ? uptimeMs() : undefined;
  const rss = process.memoryUsage().rss;
  bus.emit({ kind: 'boot.complete', message: `boot complete${up !== undefined ? ` ${up} ms after kernel start` : ''} (keel-init rss ${(rss / 2 ** 20).toFixed(1)} MiB)`, uptimeMs: up, rss });
  injectFaults();
  return {};
}

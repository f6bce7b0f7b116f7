// The stages that run the manifest: read it, announce the plan, find runc,
// run onboot, start the services, and say that boot is complete.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { entriesOf, ManifestError, type Manifest } from '../../model/index.js';
import { RuncEngine } from '../../runtime/container-run.js';
import { EntryEngine } from '../../runtime/entry-engine.js';
import { findOnPath } from '../../runtime/helper-process.js';
import type { Host } from '../../runtime/host.js';
import { delegatedCgroup, type CgroupHome } from '../../runtime/process-cgroup.js';
import { inheritedEnv } from '../../runtime/process-plan.js';
import { ProcessEngine } from '../../runtime/process-run.js';
import { commandOf } from '../core/args.js';
import { containerManifest, endWithMain, entryOutput } from './container.js';
import { CMD_SERVICE } from './container-mode.js';
import { describeOutcome, isFailure } from '../../runtime/outcome.js';
import { Runc, runcVersion } from '../../runtime/runc.js';
import { runPhase, type PhaseDeps } from '../../services/phase.js';
import { Supervisor } from '../../services/supervisor.js';
import { gateCommand } from './command-gate.js';
import { enterEmergency } from '../core/emergency.js';
import { faultAsked } from '../core/faults.js';
import { notifyHub } from '../core/notify-hub.js';
import { childOomScoreAdj, containerMemoryLimit, ownOomScoreAdj } from '../core/oom-guard.js';
import type { Reaper } from '../core/reaper.js';
import { runtimeHost } from '../core/runtime-host.js';
import { setHostname } from '../machine/setup.js';
import { ContainerRelay } from './console.js';
import type { BootBase } from './context.js';
import { readManifest } from './manifest-reader.js';
import { bootPlan } from './plan.js';
import { BootStopped } from './stages.js';
import { uptimeMs } from './record.js';

export async function manifestStage({ bus, args, container, main }: BootBase): Promise<{ manifest: Manifest | undefined }> {
  try {
    const manifest = container ? await containerManifest(args.manifest, commandOf(args)) : await readManifest(args.manifest);
    if (manifest.main !== undefined) main.set(manifest.main);
    return { manifest };
  } catch (err) {
    if (err instanceof ManifestError) enterEmergency(bus, `the manifest ${args.manifest} is not valid`, err.message.split('\n'), container);
    else enterEmergency(bus, `the manifest ${args.manifest} could not be loaded: ${(err as Error).message}`, [], container);
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
  for (const c of entriesOf(manifest)) if (!ids.has(c.name)) ids.set(c.name, 100 + ids.size);
  return ids;
}

export interface Workload {
  supervisor: Supervisor;
  /** onboot's own: aborted by the first stop hook, so a shutdown during onboot stops its entry and starts no more. */
  onboot: { deps: PhaseDeps; running: Promise<unknown> };
  /** Where runc was found, if it was; its version is asked once boot is done. */
  runc: string | undefined;
}

/** runc's version, said once boot is done: running runc costs seconds of boot under emulation, and finding it needs no run. */
export function sayRuncVersion(bus: BootBase['bus'], runc: string): Promise<void> {
  return runcVersion(runc).then((info) => {
    if (info) bus.emit({ kind: 'runtime.found', message: `runc ${info.version}`, runtime: 'runc', version: info.version, path: runc });
    else bus.emit({ kind: 'runtime.broken', level: 'warn', message: `runc at ${runc} did not answer --version; containers may fail to start` });
  });
}

/** The runc engine for `runc` (where it was found in PATH), or why there is none: runc is needed only when the manifest has container entries. */
function containerEngine(ctx: BootBase & { manifest: Manifest }, host: Host, runc: string | undefined): RuncEngine | { missing: string } {
  const { bus, manifest, paths } = ctx;
  const containers = entriesOf(manifest).filter((e) => e.kind === 'container').length;
  if (!runc && containers > 0) {
    enterEmergency(bus, 'runc was not found in PATH, and the manifest has containers', ['fix: install runc in the image (the runc package on Debian), or run the entries as processes (kind: process)'], ctx.container);
    throw new BootStopped();
  }
  if (!runc) {
    // A container image's init without runc is the usual case, not worth a warning.
    bus.emit({ kind: 'runtime.missing', level: 'debug', message: 'runc was not found in PATH (no container entries need it)' });
    return { missing: 'runc was not found in PATH' };
  }
  const ids = idsByName(manifest);
  return new RuncEngine({
    driver: new Runc(paths.runcRoot, host, runc),
    host,
    stateDir: paths.dir,
    baseDir: dirname(resolve(ctx.args.manifest)),
    idOf: (name) => ids.get(name),
    cgroupParent: ctx.args.cgroupParent,
    warn: (message) => bus.emit({ kind: 'runtime.fallback', level: 'warn', message }),
  });
}

/** Process entries' cgroups, where a writable cgroup v2 is delegated; else one warning naming the limits that are ignored. */
function processCgroups({ bus, manifest, isPid1 }: BootBase & { manifest: Manifest }): CgroupHome | undefined {
  const processes = entriesOf(manifest).filter((e) => e.kind === 'process');
  if (processes.length === 0) return undefined;
  const found = delegatedCgroup(isPid1);
  if ('home' in found) {
    bus.emit({ kind: 'runtime.cgroup', level: 'debug', message: `process entries get cgroups under ${found.home.base}` });
    return found.home;
  }
  const limited = processes.filter((e) => e.resources !== undefined).map((e) => e.name);
  bus.emit({
    kind: 'runtime.cgroup',
    level: limited.length ? 'warn' : 'debug',
    message: `no cgroup for process entries: ${found.why}${limited.length ? `; the resources (limits) of ${limited.join(', ')} are ignored, and OOM kills in them are not reported` : ''} (a writable cgroup v2 is delegated on a cgroup v2 host with docker run --cgroupns=private, and in keel's own VM)`,
  });
  return undefined;
}

/** In a container with a memory limit, the score that makes the OOM killer take keel's processes before keel (init/core/oom-guard.ts). */
function containerOomScoreAdj({ bus }: BootBase): number | undefined {
  const limit = containerMemoryLimit();
  const own = ownOomScoreAdj();
  const adj = childOomScoreAdj(own, process.memoryUsage.rss(), limit);
  if (adj !== undefined) bus.emit({ kind: 'keel.oom', level: 'debug', message: `memory limit ${Math.round(limit! / 2 ** 20)} MiB: processes keel starts get oom_score_adj ${adj} (keel's is ${own}), so the OOM killer takes them before keel` });
  return adj;
}

/**
 * The engines (runc for containers, keel's own fork for processes), the
 * supervisor, and their stop hooks (services, then onshutdown). Entries need
 * the kernel modules (the NIC; overlay when an entry writes to its root): ready when they are.
 */
export async function runtimeStage(ctx: BootBase & { manifest: Manifest; reaper: Reaper; modules: Promise<void> }): Promise<{ workload: Workload | undefined }> {
  const { bus, manifest, paths, power } = ctx;
  const host = runtimeHost(ctx.sys, ctx.reaper);
  const runc = findOnPath('runc');
  const oomScoreAdj = ctx.container ? containerOomScoreAdj(ctx) : undefined;
  const processes = new ProcessEngine({
    host,
    baseEnv: inheritedEnv(process.env),
    cgroup: processCgroups(ctx),
    ...(manifest.main === CMD_SERVICE && ctx.container ? { attached: CMD_SERVICE } : {}),
    ...(oomScoreAdj !== undefined ? { oomScoreAdj } : {}),
  });
  const engine = new EntryEngine(processes, containerEngine(ctx, host, runc));
  const emit = bus.emit.bind(bus);
  // Entry output is not an event: a container's init writes it to its stdout (per `output`); elsewhere onboot and
  // onshutdown lines go to the console, bounded, and a service's only to its log ring.
  const output = entryOutput(manifest.output ?? (ctx.container ? 'prefixed' : 'none'));
  const relay = new ContainerRelay((text) => ctx.console.write(text));
  const phaseDeps: PhaseDeps = { engine, emit, stateDir: paths.dir, onLine: output ?? ((name, _stream, line) => relay.line(name, line)), onEnd: (name, logFile) => relay.flush(name, logFile) };
  const supervisor = new Supervisor(manifest.services, { engine, emit, stateDir: paths.dir, notifyHub: notifyHub(ctx.sys, paths.dir), ...(output ? { onLine: output } : {}) });
  ctx.supervisor.set(supervisor);
  if (ctx.container && manifest.main !== undefined) endWithMain(supervisor, manifest.main, power);
  // Registered before onboot runs: a shutdown from the emergency state after a failed critical entry still runs onshutdown.
  // onboot goes first: its running entry is stopped and no other starts, before services and onshutdown.
  const abortOnboot = new AbortController();
  const onboot = { deps: { ...phaseDeps, abort: abortOnboot.signal }, running: Promise.resolve() as Promise<unknown> };
  power.addStopHook({
    name: 'onboot',
    run: async () => {
      abortOnboot.abort();
      await onboot.running;
    },
  });
  power.addStopHook({ name: 'services', run: () => supervisor.stopAll(), pending: () => supervisor.stillRunning() });
  power.addStopHook({ name: 'onshutdown', run: async () => void (await runPhase('onshutdown', manifest.onshutdown, phaseDeps)) });
  await ctx.modules;
  ctx.record.mark('runcReadyMs');
  return { workload: { supervisor, onboot, runc } };
}

export async function onbootStage({ bus, manifest, record, workload, container }: BootBase & { manifest: Manifest; workload: Workload | undefined }): Promise<object> {
  if (!workload) return {};
  const running = runPhase('onboot', manifest.onboot, workload.onboot.deps);
  workload.onboot.running = running;
  const onboot = await running;
  record.onbootResults(onboot.results);
  const bad = onboot.results.filter(isFailure).length;
  if (manifest.onboot.length > 0) {
    bus.emit({ kind: 'onboot.done', level: bad ? 'warn' : 'info', message: `onboot: ${onboot.results.length} ran, ${bad} failed`, ran: onboot.results.length, failed: bad });
  }
  const f = onboot.criticalFailure;
  if (f) {
    enterEmergency(bus, `the critical onboot entry ${f.name} failed`, [`it ${describeOutcome(f)}`, ...f.logTail.map((l) => `  | ${l}`), `its log: ${f.logFile}`], container);
    throw new BootStopped();
  }
  return {};
}

/** Starts the services; `settled` resolves when each is ready or never will be (at once when there are none). */
export function servicesStage({ bus, manifest, record, power, machine, container, workload }: BootBase & { manifest: Manifest; workload: Workload | undefined }): { settled: Promise<void> } {
  if (!workload || power.shuttingDown || manifest.services.length === 0) return { settled: Promise.resolve() };
  const { supervisor } = workload;
  supervisor.startAll();
  if (container) gateCommand(supervisor, manifest, power, bus);
  const n = manifest.services.length;
  const settled = supervisor.allReady().then(({ ready, neverReady }) => {
    record.servicesReadyAt = performance.now();
    record.mark('servicesReadyMs', supervisor.readyAt ?? record.servicesReadyAt);
    record.markCpuAtReady();
    const up = machine ? uptimeMs() : undefined;
    const when = `${record.sinceStart(supervisor.readyAt ?? record.servicesReadyAt)} ms after keel started${up !== undefined ? ` (${up} ms after kernel start)` : ''}`;
    if (neverReady.length === 0) bus.emit({ kind: 'services.ready', message: `all ${n} service(s) ready ${when}`, count: n });
    // A container's main service that never became ready has ended, and said why; the container ends with it.
    else bus.emit({ kind: 'services.ready', level: container && neverReady.every((s) => s === manifest.main) ? 'info' : 'warn', message: `services settled ${when}: ${ready} of ${n} ready; never ready: ${neverReady.join(', ')}`, count: n, neverReady });
  });
  return { settled };
}

/** Test-only (core/faults.ts): provokes the faults the guard must contain. */
function injectFaults(): void {
  if (faultAsked('uncaught')) setTimeout(() => { throw new Error('injected uncaught exception'); }, 10);
  if (faultAsked('rejection')) setTimeout(() => void Promise.reject(new Error('injected unhandled rejection')), 10);
}

/** Boot complete; once the services have settled too, what was left off the critical path (runc's version). */
export function completeStage({ bus, record, machine, power, workload, settled, loadWaitingModules }: BootBase & { workload: Workload | undefined; settled: Promise<void>; loadWaitingModules: () => void }): object {
  record.completeAt = performance.now();
  record.mark('bootCompleteMs', record.completeAt);
  const runc = workload?.runc;
  // What boot did not need waits until the services are up: under emulation their start is what the CPU is for.
  void settled.then(() => {
    if (runc) void sayRuncVersion(bus, runc);
    loadWaitingModules();
  });
  const up = machine ? uptimeMs() : undefined;
  const rss = process.memoryUsage().rss;
  // A shutdown asked for while onboot ran (the entries left skipped) ends boot too, but nothing was completed.
  const what = power.shuttingDown ? 'boot cut short by shutdown' : 'boot complete';
  bus.emit({ kind: 'boot.complete', message: `${what}${up !== undefined ? ` ${up} ms after kernel start` : ''} (keel-init rss ${(rss / 2 ** 20).toFixed(1)} MiB)`, uptimeMs: up, rss, cutShort: power.shuttingDown });
  injectFaults();
  return {};
}

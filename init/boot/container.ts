// keel as a container image's init (docker run IMAGE): how keel knows it is
// one, its manifest (/etc/keel/keel.yml, plus the CMD as the main service),
// where signals it cannot act on go, its exit code, and services' output on
// its own stdout and stderr (so `docker logs` has it).
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { EventBus } from '../../events/bus.js';
import { emptyManifest, ManifestError, parseManifest, type Manifest } from '../../model/index.js';
import type { OutputMode } from '../../model/manifest.js';
import { notStartedStatus } from '../../runtime/exec-status.js';
import type { StreamName } from '../../runtime/engine.js';
import type { ExitRecord } from '../../services/report.js';
import type { Supervisor } from '../../services/supervisor.js';
import { consoleWriter } from '../console/sink.js';
import { readManifest } from './manifest-reader.js';
import { CMD_SERVICE, CONTAINER_MANIFEST } from './container-mode.js';
import type { PowerControl } from './power.js';


/** The manifest, with `command` (docker run's CMD) as its main service; no manifest file is fine when there is a command. */
export async function containerManifest(path: string, command: readonly string[]): Promise<Manifest> {
  let manifest: Manifest;
  if (existsSync(path)) manifest = await readManifest(path);
  else if (command.length > 0) manifest = emptyManifest();
  else throw new ManifestError(path, [{ file: path, field: '', message: `nothing to run: there is no manifest here and no command; COPY a keel.yml to ${CONTAINER_MANIFEST}, or give a command after the image name` }]);
  if (command.length === 0) {
    // A manifest with nothing in it would leave the container up and silent for good.
    if (manifest.onboot.length === 0 && manifest.services.length === 0 && manifest.onshutdown.length === 0) {
      throw new ManifestError(path, [{ file: path, field: '', message: 'nothing to run: this manifest has no onboot, services or onshutdown entries and no command was given; add a service, or give a command after the image name' }]);
    }
    return manifest;
  }
  if (manifest.services.some((s) => s.name === CMD_SERVICE)) {
    throw new ManifestError(path, [{ file: path, field: 'services', message: `a service is named "${CMD_SERVICE}", which is the name of the command given to the container; rename it` }]);
  }
  // The command depends on every service (cmd.waitFor): the supervisor starts it once they are ready or started, and at
  // shutdown stops it first. A service that fails first, or the timeout, is command-gate.ts's to settle.
  const waitFor = manifest.cmd.waitFor;
  const dependsOn = waitFor === 'none' ? [] : manifest.services.map((s) => ({ name: s.name, condition: waitFor }));
  const cmd = parseManifest(JSON.stringify({ services: [{ name: CMD_SERVICE, kind: 'process', command, restart: 'no' }] }), '(the container command)').services[0]!;
  return { ...manifest, services: [...manifest.services, { ...cmd, dependsOn }], main: CMD_SERVICE };
}

/**
 * The container's exit code from the main service's last exit: its code,
 * 128+N for signal N; when it could not start, 126 for a file that cannot be
 * run (no x bit, a folder, not a program) and 127 otherwise, as a shell and
 * docker run say it.
 */
export function exitCodeOf(e: ExitRecord | undefined): number | undefined {
  if (!e) return undefined;
  if (e.error !== undefined) {
    const why = /^execve\(.*\): ([^:]*)$/.exec(e.error)?.[1];
    return why === undefined ? 127 : notStartedStatus(why);
  }
  if (e.code !== null) return e.code;
  return e.signal ? 128 + (constants.signals[e.signal] ?? 0) : 1;
}

/** How long the container's exit waits for the main service's last exit to be recorded. */
const EXIT_RECORD_MS = 3000;

/** The main service coming to rest (an exit its policy does not restart, or keel stop) ends the container, with its exit code. */
export function endWithMain(supervisor: Supervisor, main: string, power: PowerControl): void {
  const service = supervisor.get(main);
  if (!service) return;
  power.exitCodeFrom(() => exitCodeOf(service.exits.at(-1)), () => Promise.race([service.atRest(), new Promise<void>((r) => setTimeout(r, EXIT_RECORD_MS))]));
  service.onChange((s) => {
    if (s.state === 'completed' || s.state === 'failed' || (s.state === 'stopped' && !power.shuttingDown)) power.request('poweroff', `the main service ${main} ${s.state}`);
  });
}

/** A signal keel does not act on goes to the main service's process group, or without one to every running process entry. */
export async function forwardSignal(signal: NodeJS.Signals, supervisor: Supervisor | undefined, main: string | undefined, bus: EventBus): Promise<void> {
  const targets = [...(supervisor?.services.values() ?? [])].filter((s) => (main !== undefined ? s.name === main : s.entry.kind === 'process'));
  const reached: string[] = [];
  for (const s of targets) if (await s.signal(signal)) reached.push(s.name);
  bus.emit({ kind: 'signal.forward', level: 'debug', message: `${signal} passed to ${reached.length ? reached.join(', ') : 'no running service'}`, signal, services: reached });
}

/** Where each line an entry writes goes besides its log: keel's stdout or stderr (as the entry wrote it), prefixed with its name or not. */
export function entryOutput(mode: OutputMode): ((name: string, stream: StreamName, line: string) => void) | undefined {
  if (mode === 'none') return undefined;
  const out = consoleWriter(process.stdout);
  const err = consoleWriter(process.stderr);
  return (name, stream, line) => (stream === 'stderr' ? err : out)(mode === 'prefixed' ? `${name} | ${line}\n` : `${line}\n`);
}

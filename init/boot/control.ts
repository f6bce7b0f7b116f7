// The ways in: the control API on keel.sock (and, in a VM started by keel
// run, the same API over virtio-serial), and the keel> prompt on the console.
// Both come up before the manifest is read, so a broken machine can still be
// inspected and powered off.
import { verifyPassword } from '../../model/password.js';
import type { Manifest } from '../../model/index.js';
import { connectionCap, ControlApi } from '../../api/server.js';
import { openFileLimit } from '../core/fd-limit.js';
import { ConsolePrompt, consoleIO, type ConsoleAccess, type TermIO } from '../console/prompt.js';
import { remoteTerminals } from '../console/remote-terminals.js';
import { startVmChannel } from '../machine/vm-channel.js';
import { CMD_SERVICE } from './container-mode.js';
import type { BootBase } from './context.js';

/** The container id of a service's attempt that runs now, for exec (a process entry has no container to exec into). */
function runningContainer({ supervisor }: BootBase): (service: string) => string | undefined {
  return (name) => {
    const s = supervisor.get()?.get(name);
    return s?.entry.kind === 'container' ? s.containerId : undefined;
  };
}

export function controlStage(ctx: BootBase & { modules: Promise<void> }): object {
  const { bus, paths, record, power, supervisor, machine } = ctx;
  const api = new ControlApi({
    bus,
    supervisor: () => supervisor.get(),
    bootReport: () => record.report(),
    power: (action) => power.request(action, `keel ${action}`),
    // A container's CMD writes to the container's own stdout and stderr, not through keel.
    outputElsewhere: (name) =>
      ctx.container && name === CMD_SERVICE && ctx.main.get() === CMD_SERVICE ? `${CMD_SERVICE} (the container's command) writes straight to the container's stdout and stderr, not to a log of keel's: docker logs CONTAINER shows it` : undefined,
    terminals: remoteTerminals({ socket: paths.socket, runcRoot: paths.runcRoot, containerOf: runningContainer(ctx) }),
    maxConnections: connectionCap(openFileLimit()?.soft ?? 1024),
  });
  api.listen(paths.socket).then(
    () => bus.emit({ kind: 'api.listening', level: 'debug', message: `control API on ${paths.socket}`, path: paths.socket }),
    (err: Error) => bus.emit({ kind: 'api.error', level: 'error', message: `control API could not listen on ${paths.socket}: ${err.message}` }),
  );
  // In a VM started by keel run: the same API over virtio-serial, for `keel --vm NAME`, once virtio_console is loaded.
  if (machine) void ctx.modules.then(() => startVmChannel(paths.socket, (e) => bus.emit(e)));
  return {};
}

/**
 * Console access comes from the manifest. The prompt must exist in the
 * emergency state too, when the manifest may be broken: then a manifest that
 * could not be read gives an open console, as a rescue shell needs.
 */
function consoleAccess(manifest: Manifest | undefined): ConsoleAccess {
  const c = manifest?.console;
  if (c?.access === 'off') return { mode: 'off' };
  if (c?.access === 'password' && c.password) {
    const hash = c.password;
    return { mode: 'password', verify: (pw) => verifyPassword(pw, hash) };
  }
  return { mode: 'open' };
}

/** A prompt on each console that is a terminal: /dev/console, and every other console= device that is one; each its own session. */
export function promptStage(ctx: BootBase & { manifest: Manifest | undefined }): object {
  const { bus, paths, console, power } = ctx;
  // A container's stdin is its CMD's (docker run -it IMAGE sh), never a prompt's.
  if (ctx.container) return {};
  const deps = { access: consoleAccess(ctx.manifest), socket: paths.socket, runcRoot: paths.runcRoot, containerOf: runningContainer(ctx) };
  const prompts: Array<{ name: string; prompt: ConsolePrompt }> = [{ name: 'console', prompt: new ConsolePrompt({ ...deps, sink: console.sink }, consoleIO((text) => console.writePrimary(text))) }];
  for (const c of console.extraConsoles()) {
    if (!c.terminal) continue;
    const io: TermIO = { input: c.terminal.input, output: c.terminal.output, write: c.write, onResize: () => () => undefined, term: process.env.TERM ?? 'linux' };
    prompts.push({ name: c.name, prompt: new ConsolePrompt({ ...deps, sink: c.sink }, io) });
  }
  const served = prompts.filter(({ prompt }) => {
    power.onShutdown(() => prompt.release());
    return prompt.install();
  });
  const extra = served.filter((p) => p.name !== 'console').map((p) => p.name);
  if (served.length) bus.emit({ kind: 'console.prompt', message: `press Enter for the keel> prompt${extra.length ? ` (here, and on ${extra.join(', ')})` : ''}` });
  return {};
}

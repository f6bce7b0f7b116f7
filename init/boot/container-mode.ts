// Whether keel-init is a container image's init, and that mode's default
// manifest: decided before the first line, so kept apart from the rest of
// container.ts (the manifest reader and the supervisor under it load later).
import { accessSync, constants, existsSync, lstatSync, mkdirSync } from 'node:fs';
import { DEFAULT_STATE_DIR, IMAGE_MANIFEST, ownStateDirs } from '../../model/layout.js';
import type { KeelEvent } from '../../events/bus.js';
import type { InitArgs } from '../core/args.js';

/** The service a CMD given to docker run becomes. */
export const CMD_SERVICE = 'cmd';

/**
 * Whether a container's init leaves `event` off its stderr: the CMD's own
 * exit with a code, which is the container's exit code, as tini and
 * dumb-init leave it. Said still: the CMD that could not start, and an
 * OOM kill, which an exit code of 137 alone does not tell apart.
 */
export function saidByExitCode(event: KeelEvent): boolean {
  return event.kind === 'service.state' && event.service === CMD_SERVICE && event.to === 'failed' && event.error === undefined && !event.oomKilled && (event.code !== undefined || event.signal !== undefined);
}

/** Where a container image keeps its keel.yml. */
export const CONTAINER_MANIFEST = '/etc/keel/keel.yml';

/**
 * In a container a Docker or Podman engine made, with /proc mounted: as its
 * PID 1, or below another init (docker run --init puts docker-init first,
 * which passes signals on; a shell entrypoint that runs keel-init without
 * exec), where keel reaps as a child subreaper.
 */
export function isContainerInit(): boolean {
  return existsSync('/proc/self') && (existsSync('/.dockerenv') || existsSync('/run/.containerenv'));
}

/** Without --manifest: /etc/keel/keel.yml, else the manifest.json keel build writes. */
export function containerDefaults(args: InitArgs): void {
  if (!args.manifestSet && (existsSync(CONTAINER_MANIFEST) || !existsSync(IMAGE_MANIFEST))) args.manifest = CONTAINER_MANIFEST;
}

/** Why `dir` cannot hold keel's state (made if missing), or undefined when it can: a folder of keel's user, writable. */
function unusable(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    // A folder someone else made there (or a link to one) is not keel's to keep its socket in.
    if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0)) return 'not a folder of keel\'s user';
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

/**
 * A container's init that cannot write /run/keel (docker run --user 1000:
 * /run is root's; --read-only) keeps its state (the control socket, the log)
 * in a folder of its own under the temporary directory instead, or in
 * /dev/shm when that is read-only too, where `keel` in the container looks
 * next. Returns what it did, to be said, if anything.
 */
export function containerStateDir(args: InitArgs): { message: string; level: 'info' | 'warn' } | undefined {
  if (args.stateDir !== DEFAULT_STATE_DIR) return undefined;
  const why = unusable(args.stateDir);
  if (why === undefined) return undefined;
  const tried: string[] = [`${args.stateDir} (${why})`];
  for (const own of ownStateDirs()) {
    const whyNot = unusable(own);
    if (whyNot === undefined) {
      args.stateDir = own;
      return { level: 'info', message: `state in ${own}, since ${tried.join(' nor ')} ${tried.length > 1 ? 'are' : 'is'} not writable here` };
    }
    tried.push(`${own} (${whyNot})`);
  }
  return { level: 'warn', message: `no state folder: ${tried.join(' nor ')}; keel ps and keel logs will not reach this keel (docker run --tmpfs /run gives it one)` };
}

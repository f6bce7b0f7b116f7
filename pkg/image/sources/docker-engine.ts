// Image references resolved through a Docker engine (dockerode): the socket
// comes from DOCKER_HOST or the default. A missing image is pulled with
// progress; the image is read back with `docker save` (image.get) and
// unpacked layer by layer, so the result is the image itself, without the
// files a container export adds (/.dockerenv, /etc/hosts, ...).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import { BuildError } from '../kernel.js';
import { fromDockerArchive } from './docker-archive.js';
import { lookup, type StoredImage } from './store.js';
import type { Progress } from './progress.js';

export interface EngineImage extends StoredImage {
  /** registry/repo@sha256:… when the image came from a registry. */
  repoDigest?: string;
}

interface HttpError {
  statusCode?: number;
  message: string;
}

function engineAddress(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/** Why the engine did not answer: a socket that is there but not this user's says so, rather than "start it". */
export function engineUnreachable(err: NodeJS.ErrnoException): BuildError {
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new BuildError(`permission denied on the Docker engine's socket (${engineAddress()}): it is running, but only root and the docker group may use it; run keel build as root`);
  }
  return new BuildError(
    `cannot reach the Docker engine at ${engineAddress()} (${err.message})\n` +
      `  fix: start it ("systemctl start docker", or "dockerd &" without systemd) or point DOCKER_HOST at one;\n` +
      `  images can also be local directories, "docker save" archives (.tar) or OCI layouts`,
  );
}

let engine: Promise<Dockerode> | undefined;

/** The engine, checked with a ping; the dockerode import is lazy so the CLI in a VM never loads it. */
export function connectEngine(): Promise<Dockerode> {
  engine ??= (async () => {
    const { default: Docker } = await import('dockerode');
    const docker = new Docker({ timeout: 10_000 });
    try {
      await docker.ping();
    } catch (err) {
      throw engineUnreachable(err as NodeJS.ErrnoException);
    }
    return docker;
  })();
  engine.catch(() => {
    engine = undefined; // a later build may find the daemon started
  });
  return engine;
}

async function inspect(docker: Dockerode, ref: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (err) {
    if ((err as HttpError).statusCode === 404) return undefined;
    throw new BuildError(`Docker engine: inspecting ${ref}: ${(err as Error).message}`);
  }
}

interface PullEvent {
  id?: string;
  status?: string;
  error?: string;
  progressDetail?: { current?: number; total?: number };
}

// This machine may have no network: the image comes in by another way. Said without the image's name, so several
// images that failed alike share one fix line (preflight.ts).
const PULL_FIX =
  '  fix: where there is network, "docker pull" the image and "docker save -o FILE" it, then "docker load -i FILE" here;\n' +
  '  or set image: to a "docker save" archive, an OCI layout or a directory';

async function pull(docker: Dockerode, ref: string, progress: Progress, what: string, platform?: string): Promise<void> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(ref, platform ? { platform } : {});
  } catch (err) {
    // The engine's reason is kept, without the space (or newline) it ends with.
    throw new BuildError(`${what}: image ${ref} is not in the Docker engine and pulling it failed: ${(err as Error).message.trim()}\n${PULL_FIX}`);
  }
  const layers = new Map<string, { current: number; total: number; done: boolean }>();
  await new Promise<void>((resolveDone, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(new BuildError(`${what}: pulling ${ref}: ${err.message.trim()}`)) : resolveDone()),
      (ev: PullEvent) => {
        if (ev.error) return; // followProgress reports it as the final error
        if (!ev.id || !ev.status) return;
        const l = layers.get(ev.id) ?? { current: 0, total: 0, done: false };
        if (ev.progressDetail?.total) l.total = ev.progressDetail.total;
        if (ev.status === 'Downloading' && ev.progressDetail?.current !== undefined) l.current = ev.progressDetail.current;
        if (/^(Pull complete|Already exists|Download complete)$/.test(ev.status)) {
          l.done = ev.status !== 'Download complete' || l.done;
          if (l.total) l.current = l.total;
        }
        layers.set(ev.id, l);
        const all = [...layers.values()];
        const mb = (n: number) => (n / 1e6).toFixed(1);
        const got = all.reduce((s, x) => s + x.current, 0);
        const total = all.reduce((s, x) => s + x.total, 0);
        progress.update(`pulling ${ref}: ${all.filter((x) => x.done).length}/${all.length} layers, ${mb(got)} of ${mb(total)} MB`);
      },
    );
  });
  progress.done(`pulled ${ref}`);
}

/**
 * Resolves ref in the engine (pulling it when missing), unpacks it once into
 * the store. With a locked id the build uses exactly that image: by id if
 * the engine has it, else by the locked registry digest.
 */
/** `platform` (linux/arm64): the variant a missing image is pulled as (the engine's own by default). */
export async function fromEngine(ref: string, locked: { id: string; repoDigest?: string } | undefined, progress: Progress, what: string, platform?: string): Promise<EngineImage> {
  const docker = await connectEngine();
  let info: Dockerode.ImageInspectInfo | undefined;
  if (locked) {
    info = await inspect(docker, locked.id);
    if (!info && locked.repoDigest) {
      await pull(docker, locked.repoDigest, progress, what, platform);
      info = await inspect(docker, locked.repoDigest);
    }
    if (!info) {
      throw new BuildError(
        `${what}: keel.lock pins ${ref} to ${locked.id}, which the Docker engine does not have${locked.repoDigest ? ' and could not pull' : ''}\n` +
          `  fix: load that image, or rebuild with --update-lock to use what ${ref} names now`,
      );
    }
    // The tag moved since the lock was written: say so rather than build silently from the old image.
    const now = ref.includes('@') ? undefined : await inspect(docker, ref);
    if (now && now.Id !== locked.id) {
      throw new BuildError(`${what}: ${ref} is now ${now.Id.slice(0, 19)}… in the Docker engine, but keel.lock pins ${locked.id.slice(0, 19)}…\n  fix: rebuild with --update-lock to take the new image (or tag the pinned one as ${ref} again)`);
    }
  } else {
    info = await inspect(docker, ref);
    if (!info) {
      await pull(docker, ref, progress, what, platform);
      info = await inspect(docker, ref);
      if (!info) throw new BuildError(`${what}: pulled ${ref} but the engine does not show it`);
    }
  }
  const repoDigest = info.RepoDigests?.[0];
  const stored = lookup(info.Id) ?? (await exportImage(docker, info.Id, ref, progress, what));
  return { ...stored, ...(repoDigest ? { repoDigest } : {}), ...(info.Architecture ? { architecture: info.Architecture } : {}) };
}

async function exportImage(docker: Dockerode, id: string, ref: string, progress: Progress, what: string): Promise<StoredImage> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-engine-'));
  try {
    progress.update(`exporting ${ref} from the Docker engine`);
    const archive = join(dir, 'image.tar');
    try {
      await pipeline(await docker.getImage(id).get(), createWriteStream(archive));
    } catch (err) {
      throw new BuildError(`${what}: exporting ${ref} from the Docker engine failed: ${(err as Error).message}`);
    }
    const stored = await fromDockerArchive(archive, undefined, what);
    progress.done(`unpacked ${ref} (${id.slice(7, 19)})`);
    return stored;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The programs keel runs for its own work (runc, ip) as its own children:
// started by the host's spawn (the addon's clone(CLONE_VM | CLONE_VFORK), as
// for process entries) and reaped by keel's reaper, not by child_process.
// child_process forks keel-init, which copies the page tables of its 50-90 MiB
// on every call, and runc runs on every container start (docs/architecture.md,
// "Forking from Node", has the measurements).
import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { delimiter, resolve } from 'node:path';
import { DEFAULT_PATH } from '../model/layout.js';
import type { ExecResult } from './engine.js';
import type { Host, SpawnRequest } from './host.js';
import type { ExitStatus } from './outcome.js';
import { killTree } from './process-tree.js';

/** The search path a helper is looked for on: PATH in `env` (keel's own environment when none is given), else the default. */
export function searchPath(env?: readonly string[]): string {
  return (env ? env.find((e) => e.startsWith('PATH='))?.slice(5) : process.env.PATH) ?? DEFAULT_PATH;
}

/** What ended a helper that failed without saying why on stderr: its timeout, a signal, or its exit code. */
export function whatEnded(r: { code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }, timeoutMs: number): string {
  if (r.timedOut) return `did not finish within ${timeoutMs / 1000} s and was killed`;
  return r.signal ? `killed by ${r.signal}` : `exited ${r.code ?? 'without a status'}`;
}

/** A child's stdio as keel gives it: /dev/null in, a pipe each for stdout and stderr; keel reads the read ends. */
export interface PipedStdio {
  /** stdin, stdout, stderr for the child, closed in keel once it has them. */
  childEnds: [number, number, number];
  readEnds: { stdout: number; stderr: number };
}

/** Opens a child's piped stdio; throws (out of fds: EMFILE) with nothing left open. */
export function openPipedStdio(host: Host): PipedStdio {
  const opened: number[] = [];
  try {
    const devNull = openSync('/dev/null', 'r');
    opened.push(devNull);
    const [outR, outW] = host.pipe();
    opened.push(outR, outW);
    const [errR, errW] = host.pipe();
    opened.push(errR, errW);
    return { childEnds: [devNull, outW, errW], readEnds: { stdout: outR, stderr: errR } };
  } catch (err) {
    for (const fd of opened) closeSync(fd);
    throw err;
  }
}

/** A helper that is running: its output pipes (read as libuv pipes) and its exit, from the reaper. */
export interface StartedHelper {
  pid: number;
  stdout: Socket;
  stderr: Socket;
  exited: Promise<ExitStatus>;
}

/**
 * The path execve gets for `name`: as written (against `cwd`) when it holds a
 * "/", else the first executable file called `name` on `path`, found without
 * running anything (the child makes no PATH search).
 */
export function findOnPath(name: string, path = process.env.PATH ?? DEFAULT_PATH, cwd = process.cwd()): string | undefined {
  if (name.includes('/')) return resolve(cwd, name);
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = resolve(cwd, dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Whom a helper runs as, when not as keel: a probe of a process entry runs with the entry's environment, directory and user. */
export interface RunAs {
  /** argv[0] when not the path: the name as the caller wrote it (busybox's applets go by it). */
  argv0?: string;
  env?: string[];
  cwd?: string;
  user?: SpawnRequest['user'];
}

/**
 * Starts `path` (absolute) with `args`, stdin from /dev/null and a pipe each
 * for stdout and stderr, in keel's environment and directory. Throws (an
 * Error with the errno's code) when it cannot start, with nothing left open.
 */
export function startHelper(host: Host, path: string, args: readonly string[], as: RunAs = {}): StartedHelper {
  const since = performance.now();
  const stdio = openPipedStdio(host);
  let pid: number;
  try {
    pid = host.spawnProcess({
      path,
      argv: [as.argv0 ?? path, ...args],
      ...(as.env ? { env: as.env } : {}),
      cwd: as.cwd ?? process.cwd(),
      ...(as.user ? { user: as.user } : {}),
      rlimits: [],
      noNewPrivileges: false,
      stdio: stdio.childEnds,
      foreground: false,
    });
  } catch (err) {
    for (const fd of [...stdio.childEnds, stdio.readEnds.stdout, stdio.readEnds.stderr]) closeSync(fd);
    throw err;
  }
  for (const fd of stdio.childEnds) closeSync(fd);
  return {
    pid,
    stdout: new Socket({ fd: stdio.readEnds.stdout, readable: true, writable: false }),
    stderr: new Socket({ fd: stdio.readEnds.stderr, readable: true, writable: false }),
    exited: host.waitPid(pid, since),
  };
}

/**
 * Node's longest timer is 2^31-1 ms (24.8 days), and a longer one fires at
 * once: a probe's `timeout: 600h` timed out every run. A helper still running
 * after 24.8 days is as good as never timed out, so that is the cap.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The helper's exit; if it runs longer than `timeoutMs`, it is SIGKILLed with
 * every process below it (runtime/process-tree.ts says why its group is not
 * enough) and then its group (what it started that left its tree but stayed
 * in its group).
 */
export async function exitWithin(started: StartedHelper, timeoutMs: number): Promise<ExitStatus & { timedOut: boolean }> {
  let ended = false;
  let timedOut = false;
  // The pid stays ours until the reaper has collected it (a zombie keeps it), and `ended` is set in the microtask
  // right after, before any timer can run: the kill never reaches a process that took the pid over.
  const timer = setTimeout(() => {
    if (ended) return;
    timedOut = true;
    killTree(started.pid);
    // The helper leads a session of its own (the spawn's setsid); the group's id is as safe from reuse as the leader's pid.
    try {
      process.kill(-started.pid, 'SIGKILL');
    } catch {
      /* the group is gone */
    }
  }, Math.min(timeoutMs, MAX_TIMER_MS));
  const status = await started.exited.finally(() => {
    ended = true;
    clearTimeout(timer);
  });
  return { ...status, timedOut };
}

/** Output kept as text up to a limit; what comes after it is read and dropped, so the helper never blocks on a full pipe. */
class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  add(data: Buffer): void {
    if (this.size >= this.limit) return;
    const part = data.subarray(0, this.limit - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

function drained(stream: Socket, into: Capped): Promise<void> {
  return new Promise((resolve) => {
    stream.on('data', (d: Buffer) => into.add(d));
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}


/** How long a helper's output is read after it exited. */
const OUTPUT_GRACE_MS = 2000;

export interface HelperOptions extends RunAs {
  /** SIGKILL after this long; the result then says timedOut. */
  timeoutMs: number;
  /** Each of stdout and stderr is kept up to this many bytes. */
  maxBytes?: number;
}

/**
 * Runs a helper to its end: its exit, and its stdout and stderr as text (each
 * read to its end, which can come after the helper's own exit when a child it
 * left holds the pipe: runc's detached container does, so `start` runs are
 * not for this). A helper that cannot start gives code null and why on stderr,
 * as execFile would.
 */
export async function runHelper(host: Host, name: string, args: readonly string[], options: HelperOptions): Promise<ExecResult> {
  const PATH = searchPath(options.env);
  const path = findOnPath(name, PATH, options.cwd);
  if (path === undefined) return { code: null, signal: null, stdout: '', stderr: `${name}: no such program on PATH (${PATH})`, timedOut: false };
  let started: StartedHelper;
  try {
    started = startHelper(host, path, args, { ...options, argv0: name });
  } catch (err) {
    return { code: null, signal: null, stdout: '', stderr: `${path}: ${(err as Error).message}`, timedOut: false };
  }
  const out = new Capped(options.maxBytes ?? 4 << 20);
  const err = new Capped(options.maxBytes ?? 4 << 20);
  const streams = Promise.all([drained(started.stdout, out), drained(started.stderr, err)]);
  const { code, signal, timedOut } = await exitWithin(started, options.timeoutMs);
  // A child the helper left behind may hold its pipes open: its output is waited for a moment, not for good.
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([streams, new Promise((resolve) => (grace = setTimeout(resolve, OUTPUT_GRACE_MS)))]);
  clearTimeout(grace);
  started.stdout.destroy();
  started.stderr.destroy();
  return { code, signal, stdout: out.text(), stderr: err.text(), timedOut };
}

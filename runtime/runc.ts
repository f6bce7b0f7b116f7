// The runc driver. keel is the shim: `runc create` detaches, the container's
// init is re-parented to keel, and its exit status comes from keel's reaper
// (see docs/architecture.md, "keel is the shim"). No runc process stays behind per container.
// runc itself is keel's child like any other it starts (helper-process.ts):
// spawned without copying keel's memory, its exit collected by the reaper.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ExecResult } from './engine.js';
import { removeTree } from './remove-tree.js';
import { exitWithin, findOnPath, runHelper, startHelper, whatEnded, type StartedHelper } from './helper-process.js';
import type { Host } from './host.js';
import type { ExitStatus } from './outcome.js';

export interface RuncInfo {
  path: string;
  version: string;
}

/**
 * `runc --version`, or undefined when runc is not installed or does not run.
 * Generous: a loaded machine under emulation can take many seconds to start
 * a Go binary, and a runc taken for missing stops boot.
 */
export function runcVersion(runc = 'runc', timeoutMs = 120_000): Promise<RuncInfo | undefined> {
  return new Promise((resolve) => {
    execFile(runc, ['--version'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve(undefined);
      const version = /runc version (\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0] ?? 'unknown';
      resolve({ path: runc, version });
    });
  });
}

/**
 * How long runc create (or run --detach) may take before keel kills it and
 * reports the start failed: long, since a loaded machine under emulation has
 * taken over a minute for one.
 */
const CREATE_TIMEOUT_MS = 300_000;

export class RuncError extends Error {
  override name = 'RuncError';
}

export interface Created {
  pid: number;
  /** Resolves with the container init's exit status. */
  exited: Promise<ExitStatus>;
}

/** Receives the container's stdout and stderr the moment they exist, before anything can be written. */
export type AttachOutput = (stdout: Readable, stderr: Readable) => void;

export interface ContainerState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/** The operations a container runtime driver offers; a containerd driver can sit beside this one. */
export interface ContainerDriver {
  /** Creates the container; with `andStart` it also starts it (one runc call, for when nothing must happen in between). */
  create(id: string, bundle: string, attach: AttachOutput, andStart?: boolean): Promise<Created>;
  start(id: string): Promise<void>;
  /** 'unknown': runc has no such container (its state is gone); the caller knows whether its processes are. */
  kill(id: string, signal: NodeJS.Signals, all?: boolean): Promise<'sent' | 'unknown'>;
  delete(id: string, force?: boolean): Promise<void>;
  /** What a delete of a container none of whose processes is left comes to, done without the runtime: its state removed. */
  removeState(id: string): void;
  state(id: string): Promise<ContainerState | undefined>;
  exec(id: string, args: string[], timeoutMs?: number): Promise<ExecResult>;
  list(): Promise<string[]>;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The error runc logged, from its --log file (JSON lines), else its stderr. */
function runcMessage(logFile: string, stderr: string): string {
  try {
    const errors = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { level?: string; msg?: string };
        } catch {
          return {};
        }
      })
      .filter((e) => e.level === 'error' || e.level === 'fatal')
      .map((e) => e.msg ?? '');
    if (errors.length) return errors.join('; ');
  } catch {
    /* no log written */
  }
  return stderr.trim() || 'runc failed without a message';
}

export class Runc implements ContainerDriver {
  constructor(
    /** runc's state directory (--root): keel keeps its containers apart from any other runc user. */
    readonly root: string,
    private readonly host: Host,
    private readonly bin = 'runc',
  ) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  private async run(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    const r = await runHelper(this.host, this.bin, ['--root', this.root, ...args], { timeoutMs, maxBytes: 16 << 20 });
    // A runc that was killed says nothing itself: the message says what ended it.
    if (r.code === null && !r.stderr.trim()) r.stderr = whatEnded(r, timeoutMs);
    return r;
  }

  async create(id: string, bundle: string, attach: AttachOutput, andStart = false): Promise<Created> {
    // State left by an earlier run of the same id (a crash, a reboot of keel in a namespace).
    if (existsSync(join(this.root, id))) await this.delete(id, true);
    const pidFile = join(bundle, 'init.pid');
    const logFile = join(bundle, 'runc.log');
    rmSync(pidFile, { force: true });
    rmSync(logFile, { force: true });
    const since = performance.now();
    // The container inherits runc's stdio (runc's detached, non-terminal mode),
    // so these pipes are the container's stdout and stderr from here on.
    const verb = andStart ? ['run', '--detach'] : ['create'];
    const argv = ['--root', this.root, '--log', logFile, '--log-format', 'json', ...verb, '--bundle', bundle, '--pid-file', pidFile, id];
    const path = findOnPath(this.bin);
    if (path === undefined) throw new RuncError(`runc ${verb[0]} ${id}: ${this.bin} was not found on PATH`);
    let child: StartedHelper;
    try {
      child = startHelper(this.host, path, argv);
    } catch (err) {
      throw new RuncError(`runc ${verb[0]} ${id}: ${path} could not start: ${(err as Error).message}`);
    }
    // Attach now: with run --detach the container may write and exit before runc returns, and its output must not be lost.
    attach(child.stdout, child.stderr);
    let early = '';
    const collect = (d: Buffer) => {
      if (early.length < 4096) early += d.toString();
    };
    child.stderr.on('data', collect);
    // A runc that hangs must not hold up a start, and what waits on the start, for good.
    const ended = await exitWithin(child, CREATE_TIMEOUT_MS);
    child.stderr.off('data', collect);
    if (ended.code !== 0) {
      child.stdout.destroy();
      child.stderr.destroy();
      const message = ended.timedOut ? whatEnded(ended, CREATE_TIMEOUT_MS) : runcMessage(logFile, early);
      await this.delete(id, true);
      throw new RuncError(`runc ${verb[0]} ${id}: ${message}`);
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return { pid, exited: this.host.waitPid(pid, since) };
  }

  async start(id: string): Promise<void> {
    const r = await this.run(['start', id]);
    if (r.code !== 0) throw new RuncError(`runc start ${id}: ${r.stderr.trim()}`);
  }

  async kill(id: string, signal: NodeJS.Signals, all = false): Promise<'sent' | 'unknown'> {
    // Short: a stop must not wait on a runc that hangs; the caller signals through the cgroup instead.
    const r = await this.run(['kill', ...(all ? ['--all'] : []), id, signal], 5000);
    if (r.code === 0) return 'sent';
    // runc no longer knows the container: stopped and deleted, or its state directory was removed under it.
    if (/container not found|does not exist/i.test(r.stderr)) return 'unknown';
    // A container that already stopped is not an error for the one who wanted it gone.
    if (/not running|process already finished/i.test(r.stderr)) return 'sent';
    throw new RuncError(`runc kill ${id} ${signal}: ${r.stderr.trim()}`);
  }

  async delete(id: string, force = false): Promise<void> {
    const r = await this.run(['delete', ...(force ? ['--force'] : []), id], 10_000);
    if (r.code !== 0 && !/does not exist|not found/i.test(r.stderr)) throw new RuncError(`runc delete ${id}: ${r.stderr.trim()}`);
  }

  /**
   * For a container none of whose processes is left, `runc delete` removes
   * its cgroup (the engine does that), runs its poststop hooks (keel's specs
   * have none) and removes its state directory under --root: that last step
   * alone, without the cost of starting runc (tens of milliseconds here, far
   * more under emulation).
   */
  removeState(id: string): void {
    removeTree(join(this.root, id));
  }

  async state(id: string): Promise<ContainerState | undefined> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout) as ContainerState;
  }

  async list(): Promise<string[]> {
    const r = await this.run(['list', '--format', 'json']);
    if (r.code !== 0) return [];
    const parsed = JSON.parse(r.stdout || 'null') as Array<{ id: string }> | null;
    return (parsed ?? []).map((c) => c.id);
  }

  /**
   * A program in the container (a probe). At its timeout runc is killed with
   * the program and any runc init stage still setting it up: all are runc's
   * children, though outside its process group (runtime/process-tree.ts).
   */
  async exec(id: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return runHelper(this.host, this.bin, ['--root', this.root, 'exec', id, ...args], { timeoutMs });
  }
}

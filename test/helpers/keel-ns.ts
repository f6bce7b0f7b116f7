// Runs the real dist/keel-init.js as PID 1 of a new PID namespace
// (unshare --pid --fork --mount-proc), reads its console, and runs commands
// inside the namespace with nsenter. The mode is named: on a machine that is
// itself a container (/.dockerenv), PID 1 of a namespace would otherwise be
// taken for a container image's init.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { ServiceDetail } from '../../api/wire.js';
import { cgroupDirs, removeCgroup } from '../../runtime/cgroups.js';
import { readStat } from '../../runtime/procfs.js';

export const DIST = resolve(import.meta.dirname, '../../dist');

export function requireDist(): void {
  if (!existsSync(join(DIST, 'keel-init.js'))) throw new Error(`${DIST}/keel-init.js is missing: run "make build" first`);
}

export interface KeelNs {
  dir: string;
  /** Everything keel printed so far. */
  output(): string;
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** keel's pid as seen from the host. */
  hostPid(): number;
  /** Runs a shell command inside keel's PID and mount namespace. */
  exec(command: string, timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
  signal(sig: NodeJS.Signals): void;
  /** Stops reading keel's stdout (true), as a reader that stalls, or reads it again (false). */
  holdStdout(hold: boolean): void;
  /** Containers runc still knows about in keel's runc root. */
  runcContainers(): string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Processes in the namespace other than keel (pids as seen from the host), with their state. */
  others(): Array<{ pid: number; state: string }>;
  cleanup(): void;
}

/** Starts keel with `manifest` as its keel.yml, or with { path } to point it at a file of the caller's. */
/** opts.nofile starts keel with that open-file limit, soft and hard or [soft, hard] (prlimit), as a machine with a low limit would. */
export function startKeel(manifest: string | { path: string }, env: Record<string, string> = {}, opts: { ownNetwork?: boolean; files?: Record<string, string>; stateDir?: string; nofile?: number | [number, number] } = {}): KeelNs {
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), 'keel-ns-'));
  chmodSync(dir, 0o711); // as /run is: containers in user namespaces run as mapped uids that traverse it
  let file = join(dir, 'keel.yml');
  if (typeof manifest === 'string') writeFileSync(file, manifest);
  else file = manifest.path;
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
  // prlimit execs unshare in its own process: the child's pid is the same either way.
  const command = [
    ...(opts.nofile ? ['prlimit', `--nofile=${typeof opts.nofile === 'number' ? `${opts.nofile}:${opts.nofile}` : opts.nofile.join(':')}`] : []),
    'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...(opts.ownNetwork ? ['--net'] : []),
    process.execPath, join(DIST, 'keel-init.js'), '--mode', 'namespace', '--cgroup-parent', `/keel-test/${basename(dir)}`, '--manifest', file, '--state-dir', opts.stateDir ?? join(dir, 'state'),
  ];
  const child: ChildProcess = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));

  let cachedPid: number | undefined;
  const hostPid = (): number => {
    if (cachedPid) return cachedPid;
    const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
    if (!kids) throw new Error('keel-init has not started yet');
    cachedPid = Number(kids.split(' ')[0]);
    return cachedPid;
  };

  return {
    dir,
    output: () => text,
    async waitFor(pattern, ms = 45_000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = pattern.exec(text);
        if (m) return m[0];
        if (Date.now() > end) throw new Error(`keel never printed ${pattern}; it printed:\n${text}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    hostPid,
    exec(command, timeoutMs = 60_000) {
      const r = spawnSync('nsenter', ['-t', String(hostPid()), '-p', '-m', '--', 'sh', '-c', command], { encoding: 'utf8', timeout: timeoutMs });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    signal: (sig) => {
      // Only while that pid is still unshare's child: once keel-init has exited, its number may be any process's.
      const pid = hostPid();
      if (readStat(pid)?.ppid !== child.pid) throw new Error(`keel-init (pid ${pid}) has exited: ${sig} not sent`);
      process.kill(pid, sig);
    },
    holdStdout: (hold) => void (hold ? child.stdout!.pause() : child.stdout!.resume()),
    runcContainers() {
      const r = spawnSync('runc', ['--root', join(opts.stateDir ?? join(dir, 'state'), 'runc'), 'list', '-q'], { encoding: 'utf8' });
      return r.stdout.split('\n').filter((l) => l !== '');
    },
    exited,
    others() {
      const ns = readlinkSync(`/proc/${hostPid()}/ns/pid`);
      const out: Array<{ pid: number; state: string }> = [];
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name) || Number(name) === hostPid()) continue;
        try {
          if (readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue;
          const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
          out.push({ pid: Number(name), state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) });
        } catch {
          /* exited while we looked */
        }
      }
      return out;
    },
    cleanup() {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
      removeTestCgroups(basename(dir));
    },
  };
}

/**
 * The cgroups a test keel's containers had under /keel-test/NAME, at any depth, in every hierarchy
 * (none existed before it). A keel just SIGKILLed takes its namespace with it, but the kernel ends
 * those processes after the kill returns, and a cgroup that still holds one cannot go: up to 2 s
 * for them, then what is left stays for the host to see.
 */
export function removeTestCgroups(name: string): void {
  const path = `/keel-test/${name}`;
  const end = Date.now() + 2000;
  for (;;) {
    removeCgroup(path, new Set());
    if (!cgroupDirs(path).some((d) => existsSync(d)) || Date.now() > end) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a pause that blocks: clean-up runs in synchronous hooks
  }
}

/**
 * Waits until `check` holds. A check that runs the CLI starts a node process; polled back to
 * back on a loaded 2-core machine, those starts took the CPU from the keel under test. So the
 * pause after each check is at least twice as long as the check took: polling costs at most a
 * third of a core however slow the machine is.
 * A check that throws (keel not answering yet, say) counts as not yet; the last error is in the
 * timeout's message.
 */
export async function eventually(check: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const began = Date.now();
    let error = '';
    try {
      if (check()) return;
    } catch (err) {
      error = ` (last: ${(err as Error).message})`;
    }
    const took = Date.now() - began;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}${error}`);
    await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(50, 2 * took))));
  }
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The keel CLI (dist/keel.js) against the keel whose state directory is `stateDir` (its keel.sock). */
export function keelCliAt(stateDir: string, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', env: { ...process.env, KEEL_SOCKET: join(stateDir, 'keel.sock') }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The keel CLI against a test keel started with its own state directory. */
export function keelCli(k: KeelNs, ...args: string[]): CliResult {
  return keelCliAt(join(k.dir, 'state'), ...args);
}

/** `keel inspect NAME`, parsed; an inspect that fails throws with keel's message. `at`: a keel, or a state directory. */
export function inspectService(at: KeelNs | string, name: string): ServiceDetail {
  const r = keelCliAt(typeof at === 'string' ? at : join(at.dir, 'state'), 'inspect', name);
  if (r.status !== 0) throw new Error(`keel inspect ${name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ServiceDetail;
}

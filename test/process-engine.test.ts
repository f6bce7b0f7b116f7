// The process engine with real processes, no container and no namespace:
// this test worker is the reaper (a child subreaper, as keel-init is), the
// addon forks and execs, and each run is observed as a user would: its
// output, its exit, its process group, its user and limits, and the
// supervisor's restarts and stops on top of it.
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, type KeelEvent } from '../events/bus.js';
import { trackChildProcesses } from '../init/core/owned-children.js';
import { Reaper, type ExitStatus } from '../init/core/reaper.js';
import { runtimeHost } from '../init/core/runtime-host.js';
import { sys } from '../init/core/sys.js';
import { parseManifest, type ServiceEntry } from '../model/index.js';
import type { LineListener, RunningContainer } from '../runtime/engine.js';
import type { Host } from '../runtime/host.js';
import { inheritedEnv } from '../runtime/process-plan.js';
import { ProcessEngine } from '../runtime/process-run.js';
import { stopContainer } from '../runtime/stop.js';
import { Supervisor } from '../services/supervisor.js';
import { eventually } from './helpers/keel-ns.js';

let reaper: Reaper;
let host: Host;
let engine: ProcessEngine;
const reaped: ExitStatus[] = [];
const stateDir = mkdtempSync(join(tmpdir(), 'keel-proc-'));

beforeAll(() => {
  trackChildProcesses();
  reaper = new Reaper(sys(), { sweepMs: 200, onReaped: (s) => reaped.push(s) });
  reaper.start();
  host = runtimeHost(sys(), reaper);
  engine = new ProcessEngine({ host, baseEnv: inheritedEnv({ ...process.env, KEEL_SECRET: 'x', INHERITED: 'from keel' }) });
});
afterAll(() => {
  reaper.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** A service entry of kind process, parsed as the manifest would be. */
function entry(yaml: string): ServiceEntry {
  return parseManifest(`services:\n  - name: t\n    kind: process\n${yaml.replace(/^/gm, '    ')}\n`, 'keel.yml').services[0]!;
}

async function start(yaml: string): Promise<{ run: RunningContainer; lines: string[] }> {
  const lines: string[] = [];
  const onLine: LineListener = (stream, line) => lines.push(`${stream}: ${line}`);
  const run = await engine.start(engine.plan({ id: `t-${Math.random().toString(36).slice(2)}`, entry: entry(yaml) }), { onLine });
  return { run, lines };
}

const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

describe('the process engine', () => {
  it("runs the command with keel's environment (less keel's own variables) under the entry's env, and reports its exit", async () => {
    const { run, lines } = await start(`command: ["sh", "-c", "echo $INHERITED/$KEEL_SECRET/$OWN; echo oops >&2; exit 4"]\nenv: ["OWN=mine"]`);
    const outcome = await run.done;
    expect(outcome).toMatchObject({ code: 4, signal: null, oomKills: 0 });
    expect(lines).toEqual(['stdout: from keel//mine', 'stderr: oops']);
  });

  it('starts every signal at its default, unblocked (Node ignores SIGPIPE; a child must not inherit that)', async () => {
    const { run, lines } = await start(`command: ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"]`);
    await run.done;
    expect(lines).toEqual(['stdout: SigBlk:\t0000000000000000', 'stdout: SigIgn:\t0000000000000000']);
  });

  it('switches to the named user with its groups, sets rlimits and no_new_privs, and runs in cwd', async () => {
    const { run, lines } = await start(`uid: nobody\nrlimits: ["nofile,77,88"]\nnoNewPrivileges: true\ncwd: /tmp\ncommand: ["sh", "-c", "id -u; id -g; ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; pwd"]`);
    expect((await run.done).code).toBe(0);
    const gid = /^nogroup:x:(\d+)/m.exec(readFileSync('/etc/group', 'utf8'))?.[1];
    expect(lines).toEqual(['stdout: 65534', `stdout: ${gid}`, 'stdout: 77', 'stdout: 88', 'stdout: NoNewPrivs:\t1', 'stdout: /tmp']);
  });

  it('a probe runs as the entry\'s user', async () => {
    const { run } = await start(`uid: nobody\ncommand: ["sleep", "30"]`);
    const r = await run.exec(['id', '-u'], 5000);
    expect(r).toMatchObject({ code: 0, stdout: '65534\n' });
    await stopContainer(run, 'SIGKILL', 0);
  });

  it('a stop reaches the whole process group: the children of a shell that does not trap SIGTERM', async () => {
    const { run, lines } = await start(`command: ["sh", "-c", "sleep 1000 & echo $!; sleep 1000 & echo $!; wait"]`);
    await eventually(() => lines.length === 2, 5000, 'the children');
    const children = lines.map((l) => Number(l.split(' ')[1]));
    expect(children.every(alive)).toBe(true);
    const outcome = await stopContainer(run, 'SIGTERM', 5000);
    expect(outcome?.signal).toBe('SIGTERM');
    await eventually(() => !children.some(alive), 5000, 'the children to be gone');
  });

  it("what is left of the group when its leader exits is killed, as a container's processes are with its init", async () => {
    const { run, lines } = await start(`command: ["sh", "-c", "sleep 1000 & echo $!; exit 0"]`);
    expect((await run.done).code).toBe(0);
    const child = Number(lines[0]!.split(' ')[1]);
    await eventually(() => !alive(child), 5000, 'the leftover child to be killed');
  });

  it('a command that cannot start throws with its step and errno, and leaves no child behind for the reaper', async () => {
    await expect(start(`command: ["/no/such/program"]`)).rejects.toThrow(/execve\(\/no\/such\/program\): No such file or directory/);
    await expect(start(`cwd: /no/such/dir\ncommand: ["true"]`)).rejects.toThrow(/chdir\(\/no\/such\/dir\)/);
    await expect(start(`command: ["no-such-command-anywhere"]`)).rejects.toThrow(/no-such-command-anywhere: command not found/);
    // The child that failed exits 127 before execve; the addon reaped it, so the reaper never saw such an exit.
    await new Promise((r) => setTimeout(r, 300));
    expect(reaped.filter((s) => s.code === 127)).toEqual([]);
  });
});

describe('the supervisor over real processes', () => {
  it('restarts a crashing process with backoff, gates a dependent on a probe, and stops dependents first', async () => {
    const bus = new EventBus();
    const events: KeelEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const marker = join(stateDir, 'ready');
    const manifest = parseManifest(
      `services:
  - name: db
    kind: process
    command: ["sh", "-c", "sleep 0.5; touch ${marker}; trap 'echo db bye; exit 0' TERM; while :; do sleep 0.05; done"]
    ready: {exec: ["test", "-f", "${marker}"], interval: 50ms}
  - name: web
    kind: process
    dependsOn: [db]
    command: ["sh", "-c", "test -f ${marker} && echo saw ready; trap 'echo web bye; exit 0' TERM; while :; do sleep 0.05; done"]
  - name: crash
    kind: process
    command: ["false"]
    backoff: {initial: 50ms, jitter: 0}
`,
      'keel.yml',
    );
    const sup = new Supervisor(manifest.services, { engine, emit: (e) => bus.emit(e), stateDir });
    sup.startAll();
    await eventually(() => sup.get('web')!.state === 'ready' && sup.get('crash')!.restarts >= 2, 15_000, 'web ready and crash restarted twice');
    await eventually(() => sup.get('web')!.logs.read({}).some((l) => l.line === 'saw ready'), 5000, 'web to say it saw db ready');
    const delays = events.filter((e) => e.kind === 'service.state' && e.service === 'crash' && e.to === 'backoff').map((e) => e.delayMs);
    expect(delays.slice(0, 2)).toEqual([50, 100]);
    await sup.stopAll();
    const stops = events.filter((e) => e.kind === 'service.state' && e.to === 'stopped').map((e) => e.service);
    expect(stops.indexOf('web')).toBeLessThan(stops.indexOf('db'));
    expect(sup.get('db')!.exits.at(-1)).toMatchObject({ code: 0 });
  });
});

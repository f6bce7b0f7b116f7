// keel as the init of a container image, with the real Docker engine and an
// unprivileged `docker run` (default seccomp profile and capabilities, no
// --privileged): the init image `keel init-image` loads, COPY'd into a
// busybox image by `docker build`, with a keel.yml of process entries.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInitImage } from '../pkg/image/init-image.js';
import { DIST, eventually, requireDist } from './helpers/keel-ns.js';
import { dockerAvailable } from './helpers/images.js';
import { busyboxRootfs } from './helpers/rootfs.js';

const PREFIX = 'keel-procinit-test';
const INIT = `${PREFIX}/init:1`;
const BARE = `${PREFIX}/bare:1`;
const SUPERVISED = `${PREFIX}/supervised:1`;

/** A service that says when it stops (a shell ignores SIGTERM unless it traps it). */
const graceful = (name: string, body: string) => `${body}; trap 'echo ${name} stopping; exit 0' TERM; while :; do sleep 0.1; done`;

const MANIFEST = `
services:
  - name: db
    kind: process
    command: ["sh", "-c", ${JSON.stringify(graceful('db', 'echo db starting; sleep 1; touch /tmp/db-ready'))}]
    ready:
      exec: ["test", "-f", "/tmp/db-ready"]
      interval: 100ms
  - name: web
    kind: process
    dependsOn: [db]
    uid: nobody
    command: ["sh", "-c", ${JSON.stringify(graceful('web', 'test -f /tmp/db-ready && echo web found db ready; id -u'))}]
  - name: crasher
    kind: process
    command: ["sh", "-c", "echo crashing; exit 1"]
    backoff: {initial: 300ms, factor: 2, max: 2s, jitter: 0}
    startLimit: {burst: 1000, interval: 1m}
  - name: orphans
    kind: process
    restart: "no"
    command: ["sh", "-c", "i=0; while [ $i -lt 1000 ]; do (sleep 0.2 &); i=$((i+1)); done; echo made $i orphans; sleep 2"]
`;

const containers: string[] = [];
let work: string;

function docker(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(...args: string[]): string {
  const r = docker(...args);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** docker build of a busybox image with keel COPY'd in from the init image, as the README's Dockerfile does. */
function buildImage(tag: string, manifest: string | undefined): void {
  const ctx = join(work, tag.replace(/[/:]/g, '-'));
  busyboxRootfs(join(ctx, 'rootfs'));
  chmodSync(join(ctx, 'rootfs', 'tmp'), 0o1777); // as in any image: anyone's to write
  if (manifest) writeFileSync(join(ctx, 'keel.yml'), manifest);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    ['FROM scratch', 'COPY rootfs/ /', `COPY --from=${INIT} /opt/keel /opt/keel`, ...(manifest ? ['COPY keel.yml /etc/keel/keel.yml'] : []), 'ENTRYPOINT ["/opt/keel/keel-init", "--"]'].join('\n') + '\n',
  );
  const r = spawnSync('docker', ['build', '-q', '-t', tag, ctx], { encoding: 'utf8', env: { ...process.env, DOCKER_BUILDKIT: '0' }, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`docker build ${tag}: ${r.stderr}`);
}

function runDetached(name: string, image: string, ...cmd: string[]): void {
  docker('rm', '-f', name);
  containers.push(name);
  must('run', '-d', '--name', name, image, ...cmd);
}

const logs = (name: string) => {
  const r = docker('logs', name);
  return { stdout: r.stdout, stderr: r.stderr };
};
const exitCode = (name: string) => Number(must('inspect', '-f', '{{.State.ExitCode}}', name).trim());
const keelIn = (name: string, ...args: string[]) => docker('exec', name, '/opt/keel/keel', ...args);

const skip = !dockerAvailable();

describe.skipIf(skip)('keel as a container image init (docker run, unprivileged)', () => {
  beforeAll(() => {
    requireDist();
    work = mkdtempSync(join(tmpdir(), 'keel-ctr-'));
    loadInitImage(DIST, INIT);
    buildImage(BARE, undefined);
    buildImage(SUPERVISED, MANIFEST);
  }, 600_000);
  afterAll(() => {
    for (const c of containers) docker('rm', '-f', c);
    for (const i of [SUPERVISED, BARE, INIT]) docker('rmi', '-f', i);
    rmSync(work, { recursive: true, force: true });
  });

  it('docker run IMAGE echo hi prints exactly hi and exits 0', () => {
    const r = docker('run', '--rm', BARE, 'echo', 'hi');
    expect(r.stdout).toBe('hi\n');
    expect(r.status).toBe(0);
  });

  it('the CMD gets the environment keel was given, not what keel set for itself', () => {
    const env = docker('run', '--rm', '-e', 'FOO=bar', BARE, 'env').stdout.split('\n');
    expect(env).toContain('FOO=bar');
    expect(env.filter((l) => l.startsWith('UV_THREADPOOL_SIZE='))).toEqual([]);
    expect(docker('run', '--rm', '-e', 'UV_THREADPOOL_SIZE=3', BARE, 'env').stdout.split('\n')).toContain('UV_THREADPOOL_SIZE=3');
  });

  it("the CMD's exit is the container's: its code, 128+N for a signal, 127 when it cannot start", () => {
    // The code says it: keel adds no line of its own, as tini and dumb-init add none.
    expect(docker('run', '--rm', BARE, 'sh', '-c', 'echo to-stderr >&2; exit 7')).toMatchObject({ status: 7, stderr: 'to-stderr\n' });
    expect(docker('run', '--rm', BARE, 'sh', '-c', 'kill -9 $$')).toMatchObject({ status: 137, stderr: '' });
    const missing = docker('run', '--rm', BARE, 'no-such-command');
    expect(missing.status).toBe(127);
    expect(missing.stderr).toContain('no-such-command: command not found');
    expect(missing.stderr).not.toContain('services settled'); // its failure is said once
    const notAProgram = docker('run', '--rm', BARE, '/etc/passwd');
    expect(notAProgram.status).toBe(126);
    expect(notAProgram.stderr).toContain('execve(/etc/passwd): Permission denied');
    // keel's own tasks count against --pids-limit: node with one V8 worker thread, not four, leaves the CMD room under 10.
    expect(docker('run', '--rm', '--pids-limit', '10', BARE, 'echo', 'hi')).toMatchObject({ status: 0, stdout: 'hi\n' });
  });

  it('docker run --user: the CMD runs as that user, as keel itself does, and keel ps reaches it there', async () => {
    const r = docker('run', '--rm', '--user', '1000:1000', BARE, 'sh', '-c', 'id -u; id -g');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000\n1000\n');
    expect(r.status).toBe(0);
    // /run/keel is root's to make: the state (and the control socket) is in /tmp/keel-1000, where keel looks next.
    const name = `${PREFIX}-user`;
    docker('rm', '-f', name);
    containers.push(name);
    must('run', '-d', '--name', name, '--user', '1000:1000', BARE, 'sleep', '30');
    let ps = { status: null as number | null, stdout: '', stderr: '' };
    await eventually(() => (ps = keelIn(name, 'ps')).status === 0, 10_000, () => `keel ps: ${ps.stderr}`);
    expect(ps.stdout).toMatch(/^cmd +ready /m);
    // The CMD's output is the container's own, not a log of keel's: keel logs says where it is instead of printing nothing.
    const cmdLogs = keelIn(name, 'logs', 'cmd');
    expect(cmdLogs.stderr).toContain("writes straight to the container's stdout and stderr, not to a log of keel's: docker logs CONTAINER shows it");
    expect(cmdLogs.status).not.toBe(0);
  });

  it('docker run --read-only: keel keeps its state in /dev/shm, and keel ps reaches it there', async () => {
    const name = `${PREFIX}-readonly`;
    docker('rm', '-f', name);
    containers.push(name);
    must('run', '-d', '--name', name, '--read-only', '--user', '1000:1000', BARE, 'sleep', '30');
    let ps = { status: null as number | null, stdout: '', stderr: '' };
    await eventually(() => (ps = keelIn(name, 'ps')).status === 0, 10_000, () => `keel ps: ${ps.stderr}`);
    expect(ps.stdout).toMatch(/^cmd +ready /m);
    expect(docker('logs', name).stdout + docker('logs', name).stderr).not.toContain('no state folder');
  });

  it('below another init (docker run --init, a shell entrypoint): keel still runs the CMD and ends with its code', () => {
    expect(docker('run', '--rm', '--init', BARE, 'sh', '-c', 'echo "pid $$ parent $PPID"; exit 3')).toMatchObject({ status: 3, stdout: expect.stringMatching(/^pid \d+ parent [2-9]\d*\n$/) });
    const viaShell = docker('run', '--rm', '--entrypoint', '/bin/sh', BARE, '-c', '/opt/keel/keel-init -- sh -c "echo hi; exit 4"; echo "keel ended $?"');
    expect(viaShell.stdout).toBe('hi\nkeel ended 4\n');
  });

  it('under a memory limit, the OOM killer takes the processes keel started, not keel (whose node is the largest process there)', () => {
    // keel-init is about 48 MiB of a 64 MiB container: without a higher score for what it starts, keel was
    // the one killed, and the container ended 137 without a word.
    // 14 shells of 4 MB each, none alone as large as keel: with keel the likeliest victim, it was the one killed.
    const r = docker('run', '--rm', '--memory', '64m', '--memory-swap', '64m', BARE, 'sh', '-c', 'for i in $(seq 14); do (x=$(head -c 4000000 /dev/zero | tr "\\0" a); sleep 2) & done; wait; echo "all ended"; cat /proc/self/oom_score_adj');
    expect(r.stdout).toMatch(/^all ended\n\d+\n$/);
    expect(Number(r.stdout.split('\n')[1])).toBeGreaterThan(0);
    expect(r.status).toBe(0);
    // Without a limit, what keel starts keeps the engine's score.
    expect(docker('run', '--rm', BARE, 'cat', '/proc/self/oom_score_adj').stdout).toBe('0\n');
  });

  it('the CMD writes megabytes to a stdout that Docker reads slower than it is written, losing none', () => {
    // keel's stdout is the engine's FIFO, which node makes non-blocking for itself: shared with the CMD, its
    // writes failed with EAGAIN ("I/O error") whenever the engine fell behind. The CMD gets a blocking one of its own.
    const r = spawnSync('docker', ['run', '--rm', BARE, 'sh', '-c', 'seq 1 300000'], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.length).toBe(300_001);
    expect(lines.at(-2)).toBe('300000');
  });

  it('docker run -i: the CMD reads the container stdin', () => {
    const r = spawnSync('docker', ['run', '--rm', '-i', BARE, 'sh', '-c', 'read x; echo got $x'], { input: 'abc\n', encoding: 'utf8' });
    expect(r.stdout).toBe('got abc\n');
  });

  it('docker run -it IMAGE sh: the shell owns the terminal, so ctrl-c interrupts its command and not keel', async () => {
    const term = pty.spawn('docker', ['run', '--rm', '-it', BARE, 'sh'], { cols: 80, rows: 24 });
    let screen = '';
    term.onData((d) => (screen += d));
    const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
    try {
      await eventually(() => screen.includes('# '), 20_000, () => `a prompt; the screen:\n${screen}`);
      term.write('sleep 30\r');
      await eventually(() => screen.includes('sleep 30\r\n'), 10_000, 'the command to be echoed');
      await new Promise((r) => setTimeout(r, 300));
      term.write('\x03');
      term.write('echo still $((40+2))\r');
      await eventually(() => screen.includes('still 42'), 10_000, () => `the shell to run on after ctrl-c; the screen:\n${screen}`);
      term.write('exit 3\r');
      expect(await exited).toBe(3);
    } finally {
      term.kill();
    }
  });

  it('supervises process entries: readiness gates a dependency, a crash restarts with backoff, keel ps lists them, 1,000 orphans are reaped, docker logs has prefixed lines', async () => {
    const name = `${PREFIX}-supervised`;
    runDetached(name, SUPERVISED);
    await eventually(() => logs(name).stdout.includes('orphans | made 1000 orphans'), 120_000, () => `the orphans to be made; logs:\n${logs(name).stdout}`);
    const restarts = () => (JSON.parse(keelIn(name, 'inspect', 'crasher').stdout || '{}') as { restarts?: number }).restarts ?? 0;
    await eventually(() => restarts() >= 3, 30_000, 'crasher to restart three times');
    const ps = keelIn(name, 'ps');
    expect(ps.status).toBe(0);
    for (const svc of ['db', 'web', 'crasher', 'orphans']) expect(ps.stdout).toMatch(new RegExp(`^${svc}\\s`, 'm'));
    expect(ps.stdout).toMatch(/^db\s+ready \(healthy\)/m);
    expect(ps.stdout).toMatch(/^web\s+ready/m);

    // Backoff: each delay twice the one before (300 ms, 600 ms, …), as the exit events say.
    const delays = [...keelIn(name, 'events').stdout.matchAll(/service crasher exited 1 after \d+ ms; restarting in (\d+) ms/g)].map((m) => Number(m[1]));
    expect(delays.slice(0, 3)).toEqual([300, 600, 1200]);

    const out = logs(name).stdout;
    // web started only once db was ready (its probe passed), as the db's own non-root user for web.
    expect(out).toContain('web | web found db ready');
    expect(out).toContain('web | 65534');
    expect(out.indexOf('db | db starting')).toBeLessThan(out.indexOf('web | web found db ready'));
    expect(out).toMatch(/^crasher \| crashing$/m);

    // Every orphan is gone and no zombie is left in the container.
    await eventually(() => docker('exec', name, 'sh', '-c', 'ps -o stat,comm | grep -c "^Z" || true').stdout.trim() === '0' && !/sleep 0\.2/.test(docker('exec', name, 'ps', '-o', 'args').stdout), 30_000, 'the orphans to be reaped');
  }, 240_000);

  it('docker stop stops the services in reverse dependency order within the grace, and exits 0 after a clean stop', async () => {
    const name = `${PREFIX}-stop`;
    runDetached(name, SUPERVISED);
    await eventually(() => /^web\s+ready/m.test(keelIn(name, 'ps').stdout), 30_000, 'web to be ready');
    const stop = docker('stop', name); // Docker's default grace: 10 s, then SIGKILL (exit 137)
    expect(stop.status).toBe(0);
    expect(exitCode(name)).toBe(0);
    const out = logs(name).stdout;
    expect(out).toContain('web | web stopping');
    expect(out).toContain('db | db stopping');
    expect(out.indexOf('web | web stopping')).toBeLessThan(out.indexOf('db | db stopping'));
  });

  it('with a CMD beside the manifest, the CMD is the main service: docker stop ends with its exit code', async () => {
    const name = `${PREFIX}-main`;
    runDetached(name, SUPERVISED, 'sh', '-c', 'echo main up; trap "exit 5" TERM; while :; do sleep 0.1; done');
    await eventually(() => logs(name).stdout.includes('main up') && /^web\s+ready/m.test(keelIn(name, 'ps').stdout), 30_000, 'the CMD and web to run');
    expect(docker('stop', name).status).toBe(0);
    expect(exitCode(name)).toBe(5);
  });

  it('a service that ignores SIGTERM is killed at the 8 s deadline, so docker stop never needs its own SIGKILL', async () => {
    const name = `${PREFIX}-stubborn`;
    runDetached(name, BARE, 'sh', '-c', 'trap "" TERM; echo up; while :; do sleep 0.2; done');
    await eventually(() => logs(name).stdout.includes('up'), 20_000, 'the CMD to start');
    expect(docker('stop', '-t', '30', name).status).toBe(0);
    // keel's deadline, not Docker's grace, ended it: keel says so, and its SIGKILL is the main service's end.
    expect(logs(name).stderr).toMatch(/shutdown: services still not stopped 8000 ms after shutdown began \(cmd \(stopping\)\)/);
    expect(exitCode(name)).toBe(137);
  });

  it('nothing to run (no manifest, no command): the container says why and exits 1', () => {
    const r = docker('run', '--rm', BARE);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nothing to run: there is no manifest here and no command');
    // A manifest with nothing in it says so too, rather than leave the container up and silent.
    writeFileSync(join(work, 'empty.yml'), '# nothing yet\n');
    const empty = docker('run', '--rm', '-v', `${join(work, 'empty.yml')}:/etc/keel/keel.yml:ro`, BARE);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain('nothing to run: this manifest has no onboot, services or onshutdown entries and no command was given');
    expect(empty.stderr).toContain('keel ends (exit 1)');
    expect(empty.stderr).not.toContain('keel keeps running');
  });

  describe('the CMD waits for the keel.yml services (cmd)', () => {
    /** docker run --rm of the bare image with this keel.yml bound in. */
    const runWith = (manifest: string, ...cmd: string[]) => {
      const file = join(work, `cmd-${Math.random().toString(36).slice(2)}.yml`);
      writeFileSync(file, manifest);
      return docker('run', '--rm', '-v', `${file}:/etc/keel/keel.yml:ro`, BARE, ...cmd);
    };
    const slowReady = (extra = '') => `${extra}services:
  - name: db
    kind: process
    command: ["sh", "-c", "sleep 1.5; touch /tmp/db-ready; exec sleep 1000"]
    ready: {exec: ["test", "-f", "/tmp/db-ready"], interval: 100ms}
`;

    /** docker run -d, as PREFIX-TAG, of the bare image with this keel.yml bound in; the container's name. */
    const runDetachedWith = (tag: string, manifest: string, ...cmd: string[]) => {
      const file = join(work, `${tag}.yml`);
      writeFileSync(file, manifest);
      const name = `${PREFIX}-${tag}`;
      docker('rm', '-f', name);
      containers.push(name);
      must('run', '-d', '--name', name, '-v', `${file}:/etc/keel/keel.yml:ro`, BARE, ...cmd);
      return name;
    };

    it('starts once every service is ready: the CMD finds what they made', () => {
      const r = runWith(slowReady(), 'sh', '-c', 'test -f /tmp/db-ready && echo db was ready');
      expect(r).toMatchObject({ status: 0, stdout: 'db was ready\n' });
    });

    it('timeout: 0 is no limit, as in s6-overlay', () => {
      const r = runWith(slowReady('cmd: {timeout: 0s}\n'), 'sh', '-c', 'test -f /tmp/db-ready && echo db was ready');
      expect(r).toMatchObject({ status: 0, stdout: 'db was ready\n' });
    });

    it('waitFor: none starts it at once, beside them', () => {
      const r = runWith(slowReady('cmd: {waitFor: none}\n'), 'sh', '-c', 'test -f /tmp/db-ready && echo ready || echo not yet');
      expect(r).toMatchObject({ status: 0, stdout: 'not yet\n' });
    });

    it('a timeout past node\'s 24.8-day timer limit waits, and a keel restart of a service during the wait is not taken for its end', async () => {
      const name = runDetachedWith('cmd-restart', slowReady('cmd: {timeout: 600h}\n').replace('sleep 1.5', 'sleep 3'), 'sh', '-c', 'test -f /tmp/db-ready && echo db was ready');
      await eventually(() => /^db\s+running/m.test(keelIn(name, 'ps').stdout), 20_000, 'db to run');
      expect(keelIn(name, 'restart', 'db').status).toBe(0);
      await eventually(() => must('inspect', '-f', '{{.State.Status}}', name).trim() === 'exited', 30_000, 'the container to end');
      expect(exitCode(name)).toBe(0);
      expect(logs(name).stdout).toContain('db was ready');
      expect(logs(name).stderr).not.toContain('the command was not started');
    });

    it('docker stop while the CMD waits: the CMD never runs, and the container ends 143 (SIGTERM), not 0', async () => {
      const name = runDetachedWith('cmd-stopped', slowReady('cmd: {timeout: 0s}\n').replace('sleep 1.5', 'sleep 1000'), 'echo', 'cmd ran');
      await eventually(() => /^cmd\s+waiting/m.test(keelIn(name, 'ps').stdout), 20_000, 'the CMD to wait for db');
      expect(docker('stop', name).status).toBe(0);
      expect(exitCode(name)).toBe(143);
      expect(logs(name).stdout).not.toContain('cmd ran');
    });

    it('a service that fails before it is ready ends the container with exit 1, naming it, and the CMD never runs', () => {
      const r = runWith('services:\n  - {name: setup, kind: process, restart: "no", command: ["sh", "-c", "echo cannot; sleep 0.5; exit 3"], ready: {exec: ["false"], interval: 100ms}}\n', 'echo', 'cmd ran');
      expect(r.status).toBe(1);
      expect(r.stdout).not.toContain('cmd ran');
      expect(r.stderr).toContain('service setup exited 3');
      expect(r.stderr).toContain('the command was not started: setup failed (restart: no); the container ends');
    });

    it('a readiness probe that never passes: after cmd.timeout, exit 1, or with ifNotReady: start the CMD runs anyway, with a warning', () => {
      const never = (extra: string) => `${extra}services:
  - name: stuck
    kind: process
    command: ["sleep", "1000"]
    ready: {exec: ["false"], interval: 100ms}
`;
      const ended = runWith(never('cmd: {timeout: 2s}\n'), 'echo', 'cmd ran');
      expect(ended.status).toBe(1);
      expect(ended.stdout).not.toContain('cmd ran');
      expect(ended.stderr).toMatch(/the command was not started: after 2000 ms, not yet ready: stuck running \(not ready yet: false exited 1/);
      const anyway = runWith(never('cmd: {timeout: 2s, ifNotReady: start}\n'), 'sh', '-c', 'echo cmd ran; exit 4');
      expect(anyway).toMatchObject({ status: 4, stdout: 'cmd ran\n' });
      expect(anyway.stderr).toContain('the command starts without its services: after 2000 ms, not yet ready: stuck running');
    });
  });

  it('SIGHUP goes to the main service, not to keel', async () => {
    const name = `${PREFIX}-hup`;
    runDetached(name, BARE, 'sh', '-c', 'trap "echo got HUP" HUP; echo ready; while :; do sleep 0.1; done');
    await eventually(() => logs(name).stdout.includes('ready'), 20_000, 'the CMD to start');
    must('kill', '-s', 'HUP', name);
    await eventually(() => logs(name).stdout.includes('got HUP'), 10_000, 'the CMD to get SIGHUP');
    expect(docker('inspect', '-f', '{{.State.Running}}', name).stdout.trim()).toBe('true');
  });

  /** A detached container of BARE whose image says STOPSIGNAL `signal`, its CMD the shell `traps` then a wait, once that CMD runs. */
  async function withStopSignal(suffix: string, signal: string, traps: string): Promise<string> {
    const name = `${PREFIX}-${suffix}`;
    docker('rm', '-f', name);
    containers.push(name);
    must('run', '-d', '--name', name, '--stop-signal', signal, BARE, 'sh', '-c', `${traps}; echo ready; while :; do sleep 0.1; done`);
    await eventually(() => logs(name).stdout.includes('ready'), 20_000, 'the CMD to start');
    return name;
  }

  it('docker stop with a STOPSIGNAL of SIGQUIT (nginx\'s) stops the CMD gracefully through keel', async () => {
    const name = await withStopSignal('quit', 'SIGQUIT', 'trap "echo got QUIT; exit 0" QUIT');
    const started = Date.now();
    must('stop', '-t', '10', name);
    // Unforwarded, the kernel dropped the signal at PID 1 and Docker SIGKILLed it 10 s later: 137.
    expect(Date.now() - started).toBeLessThan(8000);
    expect(logs(name).stdout).toContain('got QUIT');
    expect(exitCode(name)).toBe(0);
  });

  it('docker stop with a STOPSIGNAL of SIGINT (postgres\'s fast shutdown): the CMD gets SIGINT, not SIGTERM', async () => {
    const name = await withStopSignal('int', 'SIGINT', 'trap "echo got INT; exit 0" INT; trap "echo got TERM; exit 0" TERM');
    must('stop', '-t', '10', name);
    expect(logs(name).stdout).toContain('got INT');
    expect(logs(name).stdout).not.toContain('got TERM');
    expect(exitCode(name)).toBe(0);
  });
});

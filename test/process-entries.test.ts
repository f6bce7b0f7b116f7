// Process entries (kind: process) under the real keel-init, PID 1 of a PID
// namespace on this host (no runc involved), driven through the real CLI:
// the user switch, rlimits and no_new_privs as the process sees them, a stop
// that reaches the process group, sd_notify readiness as a non-root user,
// logs --previous, and the warning where no cgroup is delegated.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceDetail } from '../api/wire.js';
import { DIST, eventually, startKeel, type KeelNs } from './helpers/keel-ns.js';

let fixtures: string;
let notifyBin: string;
let keel: KeelNs | undefined;

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-proc-ns-'));
  chmodSync(fixtures, 0o755); // the notify sender runs as nobody
  notifyBin = join(fixtures, 'notify');
  const cc = spawnSync('gcc', ['-O2', '-o', notifyBin, join(import.meta.dirname, 'fixtures/notify/notify.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the notify fixture (make deps installs gcc): ${cc.stderr}`);
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

const proc = (name: string, script: string, extra = '') =>
  `  - name: ${name}\n    kind: process\n    command: ["sh", "-c", ${JSON.stringify(script)}]\n${extra
    .split('\n')
    .filter(Boolean)
    .map((l) => `    ${l}\n`)
    .join('')}`;

function cli(k: KeelNs, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', env: { ...process.env, KEEL_SOCKET: join(k.dir, 'state', 'keel.sock') }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const inspect = (k: KeelNs, name: string) => JSON.parse(cli(k, 'inspect', name).stdout || '{}') as ServiceDetail;
const logLines = (k: KeelNs, ...args: string[]) => cli(k, 'logs', ...args).stdout.split('\n').filter(Boolean).map((l) => l.replace(/^\S+ \S+ #\d+ /, ''));

describe('process entries under keel-init', () => {
  it('run as the named user with their rlimits and no_new_privs; without runc or an image', async () => {
    // A PATH with busybox's applets and no runc: process entries must not need it.
    const bin = join(fixtures, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const applet of ['sh', 'id', 'grep', 'sleep']) if (!existsSync(join(bin, applet))) symlinkSync('/bin/busybox', join(bin, applet));
    if (!existsSync(join(bin, 'unshare'))) symlinkSync('/usr/bin/unshare', join(bin, 'unshare')); // what starts keel-init
    keel = startKeel('services:\n' + proc('who', 'id -un; ulimit -n; grep NoNewPrivs /proc/self/status; sleep 1000', 'uid: nobody\nrlimits: ["nofile,64,64"]\nnoNewPrivileges: true'), { PATH: bin });
    await keel.waitFor(/all 1 service\(s\) ready/);
    await eventually(() => logLines(keel!, 'who').length === 3, 10_000, 'three lines');
    expect(logLines(keel, 'who')).toEqual(['nobody', '64', 'NoNewPrivs:\t1']);
    expect(keel.output()).not.toMatch(/runc|emergency/i);
    // There is no container to exec into, and keel says so.
    const exec = cli(keel, 'exec', 'who', 'id');
    expect(exec.status).not.toBe(0);
    expect(exec.stderr).toContain('service who is a process (kind: process), not a container');
  });

  it('a stop reaches every process of the group, even under a shell that ignores SIGTERM', async () => {
    keel = startKeel('services:\n' + proc('group', 'sleep 1001 & sleep 1002 & wait', 'stopTimeout: 30s'));
    await keel.waitFor(/all 1 service\(s\) ready/);
    const sleepers = () => keel!.exec('ps -eo args').stdout.split('\n').filter((l) => /^sleep 100[12]$/.test(l.trim()));
    await eventually(() => sleepers().length === 2, 10_000, 'both sleeps');
    const stop = cli(keel, 'stop', 'group', '--wait');
    expect(stop.status).toBe(0);
    // SIGTERM to the group killed the sleeps; the shell, waiting on them, ended too, long before its 30 s stopTimeout.
    expect(inspect(keel, 'group').exits.at(-1)).toMatchObject({ signal: 'SIGTERM' });
    expect(sleepers()).toEqual([]);
  });

  it('sd_notify READY=1 from a non-root process marks it ready, and a dependent waits for it', async () => {
    keel = startKeel(
      'services:\n' +
        proc('slow', `sleep 0.5; ${notifyBin} READY=1 STATUS=serving; sleep 1000`, 'notify: true\nuid: nobody') +
        proc('after', 'echo started; sleep 1000', 'dependsOn: [slow]'),
    );
    await keel.waitFor(/service slow ready \(READY=1\) after \d+ ms: serving/);
    await eventually(() => logLines(keel!, 'after').includes('started'), 10_000, 'the dependent to start');
    expect(inspect(keel, 'slow')).toMatchObject({ state: 'ready', status: 'serving' });
  });

  it('logs --previous shows the run before the current one', async () => {
    const marker = join(fixtures, `ran-${Date.now()}`);
    keel = startKeel('services:\n' + proc('twice', `if [ -e ${marker} ]; then echo second run; sleep 1000; fi; touch ${marker}; echo first run; exit 1`, 'backoff: {initial: 100ms, jitter: 0}'));
    await eventually(() => inspect(keel!, 'twice').restarts === 1 && logLines(keel!, 'twice').includes('second run'), 15_000, 'the second run');
    expect(logLines(keel, '--previous', 'twice')).toEqual(['first run']);
    expect(logLines(keel, 'twice')).toEqual(['first run', 'second run']);
  });

  it('says once that resource limits are ignored where no cgroup is delegated (this host: cgroup v1)', async () => {
    keel = startKeel('services:\n' + proc('limited', 'sleep 1000', 'resources: {memory: {limit: 64m}}') + proc('free', 'sleep 1000'));
    await keel.waitFor(/all 2 service\(s\) ready/);
    const warnings = keel.output().match(/the resources \(limits\) of limited are ignored/g) ?? [];
    expect(warnings).toHaveLength(1);
  });
});

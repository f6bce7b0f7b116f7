// Process entries (kind: process) under the real keel-init, PID 1 of a PID
// namespace on this host (no runc involved), driven through the real CLI:
// the user switch, rlimits and no_new_privs as the process sees them, a stop
// that reaches the process group, sd_notify readiness as a non-root user,
// logs --previous, and the warning where no cgroup is delegated.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIST, eventually, inspectService as inspect, keelCli as cli, startKeel, type KeelNs } from './helpers/keel-ns.js';

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

/** A process's CPU time so far (user and system), in seconds. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

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

  it('a flood of sd_notify datagrams leaves keel-init small and others\' READY=1 on time, and loses none: the last STATUS= is kept', async () => {
    keel = startKeel(
      'services:\n' +
        proc('flood', `for i in 1 2 3 4; do ${notifyBin} --flood 1500 3900 & done; wait; sleep 1000`, 'notify: true') +
        proc('calm', `sleep 1; ${notifyBin} READY=1 STATUS=calm; sleep 1000`, 'notify: true'),
    );
    const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${keel!.hostPid()}/status`, 'utf8'))![1]) / 1024;
    await keel.waitFor(/service flood running/);
    const before = rssMiB();
    let most = before;
    const sampler = setInterval(() => (most = Math.max(most, rssMiB())), 50);
    try {
      await keel.waitFor(/service calm ready \(READY=1\)/, 20_000);
      await eventually(() => inspect(keel!, 'flood').status === 'done', 60_000, 'the flood\'s last STATUS=');
    } finally {
      clearInterval(sampler);
    }
    console.log(`keel-init RSS ${before.toFixed(1)} MiB before 6,000 notify datagrams of 4 KB from 4 senders, at most ${most.toFixed(1)} MiB during them`);
    expect(most - before).toBeLessThan(16);
  }, 90_000);

  it('takes sd_notify datagrams at most a thousand a second from all services together, so a flood leaves keel-init idle and ps answering', async () => {
    // Unpaced, four senders in a loop kept keel-init at 100 % of a core (about 170,000 datagrams a second).
    keel = startKeel(
      'services:\n' +
        proc('flood', `for i in 1 2 3 4; do ${notifyBin} --flood 100000000 & done; wait`, 'notify: true') +
        proc('count', `${notifyBin} --flood 100000000`, 'notify: true'),
    );
    await eventually(() => Number(inspect(keel!, 'count').status) > 0, 20_000, 'the first STATUS= from count');
    const pid = keel.hostPid();
    const [cpu0, count0, t0] = [cpuSeconds(pid), Number(inspect(keel, 'count').status), performance.now()];
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect(cli(keel, 'ps').status).toBe(0);
    }
    const seconds = (performance.now() - t0) / 1000;
    const share = (cpuSeconds(pid) - cpu0) / seconds;
    const rate = (Number(inspect(keel, 'count').status) - count0) / seconds;
    console.log(`keel-init used ${(share * 100).toFixed(0)} % of a core beside five notify floods; count's datagrams taken: ${rate.toFixed(0)} a second`);
    expect(share).toBeLessThan(0.3);
    // One sender of five sockets' worth: its share of the thousand, and not starved by the other four.
    expect(rate).toBeLessThan(1000);
    expect(rate).toBeGreaterThan(50);
  }, 90_000);

  it('beside 200 services flooding their notify sockets, a quiet service\'s WATCHDOG=1 still comes in time: no false watchdog restart', async () => {
    // Each socket gets one datagram per turn: with 8, this quiet service waited 1.6 s behind the floods and its
    // 1 s watchdog restarted it every few seconds.
    let manifest = 'services:\n';
    for (let i = 0; i < 200; i++) manifest += proc(`f${i}`, `exec ${notifyBin} --flood 100000000`, 'notify: true');
    manifest += proc('quiet', `${notifyBin} READY=1; while :; do ${notifyBin} WATCHDOG=1; sleep 0.25; done`, 'notify: true\nwatchdogSec: 1s\nbackoff: {initial: 100ms}\nstartLimit: {burst: 1000, interval: 1m}');
    keel = startKeel(manifest);
    await keel.waitFor(/service quiet ready/, 60_000);
    await new Promise((r) => setTimeout(r, 12_000));
    expect(keel.output()).not.toMatch(/service quiet: no WATCHDOG=1/);
    expect(inspect(keel, 'quiet').restarts).toBe(0);
  }, 120_000);

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

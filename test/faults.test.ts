// An operator's bad day, provoked for real against keel-init as PID 1 of a
// PID namespace with real runc containers: a runc that breaks or hangs
// during a stop, a service that writes without newlines, a full state
// directory, durations past what one timer holds, a cgroup keel did not
// make, a reader who is not root, a fork bomb at its pids limit.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIST, eventually, inspectService, keelCliAt, startKeel, type KeelNs } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';

let fixtures: string;
let rootfs: string;
let keel: KeelNs | undefined;
const cleanups: Array<() => void> = [];

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-faults-'));
  chmodSync(fixtures, 0o711);
  rootfs = busyboxRootfs(join(fixtures, 'busybox'));
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
  for (const f of cleanups.splice(0).reverse()) f();
});

const GRACEFUL = 'trap "exit 0" TERM; while :; do sleep 0.1; done';
const svc = (name: string, script: string, extra = '') => shellEntry(rootfs, name, script, extra);

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** A directory (for PATH) holding a `runc` script in front of the real one: `script` is given the real one's path and its own directory. */
function runcInFront(name: string, script: (real: string, dir: string) => string): string {
  const dir = join(fixtures, name);
  mkdirSync(dir, { recursive: true });
  const real = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(join(dir, 'runc'), script(real, dir), { mode: 0o755 });
  return dir;
}

/**
 * A runc in front of the real one that a flag file breaks (exits 1), hangs (sleeps) or makes slow to
 * delete (2 s before each `runc delete`), as a runc that disappears, wedges or is slow on a loaded
 * machine. When slow, it writes "begin VERB ID" and "end VERB ID" around each create, run, start and
 * delete to `calls`.
 */
function breakableRunc(): { path: string; set(mode: 'ok' | 'broken' | 'hang' | 'slow-delete'): void; calls(): string[] } {
  const dir = join(fixtures, 'runc-wrapper');
  const flag = join(dir, 'mode');
  const log = join(dir, 'calls');
  runcInFront(
    'runc-wrapper',
    (real) => `#!/bin/sh
mode=$(cat ${flag} 2>/dev/null)
[ "$mode" = broken ] && { echo "runc: gone" >&2; exit 1; }
[ "$mode" = hang ] && exec sleep 3600
[ "$mode" = slow-delete ] || exec ${real} "$@"
verb=; id=
for a in "$@"; do id=$a; [ -z "$verb" ] && case $a in create|run|start|delete) verb=$a;; esac; done
[ -n "$verb" ] && echo "begin $verb $id" >> ${log}
[ "$verb" = delete ] && sleep 2
${real} "$@"; rc=$?
[ -n "$verb" ] && echo "end $verb $id" >> ${log}
exit $rc
`,
  );
  writeFileSync(flag, 'ok');
  writeFileSync(log, '');
  return { path: dir, set: (mode) => writeFileSync(flag, mode), calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

describe('a stop that never ends', () => {
  it('stops a service and shuts down when runc fails or hangs, signalling through the cgroup itself', async () => {
    const runc = breakableRunc();
    keel = startKeel('services:\n' + svc('victim', GRACEFUL, 'stopTimeout: 2s') + svc('wedged', GRACEFUL, 'stopTimeout: 2s'), { PATH: `${runc.path}:${process.env.PATH}` });
    await keel.waitFor(/all 2 service\(s\) ready/, 30_000);
    const state = join(keel.dir, 'state');
    runc.set('broken');
    const stop = keelCliAt(state, 'stop', 'victim', '--wait');
    expect(stop.status).toBe(0);
    expect(inspectService(keel, 'victim')).toMatchObject({ state: 'stopped', lastExit: { code: 0, signal: null } });
    // (The CLI above ran synchronously: keel's console lines are read from here on.)
    // Each attempt of a service is a container of its own: victim+1 is victim's first.
    await keel.waitFor(/runc could not signal victim\+1 \(runc kill victim\+1 SIGTERM: runc: gone\); keel sent SIGTERM to 1 process\(es\) itself/);
    // Its runc state goes without runc: none of its processes is left.
    await eventually(() => !existsSync(join(state, 'runc', 'victim+1')), 30_000, "victim+1's runc state to go");
    // A runc that hangs is given up on after its short timeout, and the stop goes on the same way.
    runc.set('hang');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    expect(keel.output()).toMatch(/keel sent SIGTERM to 1 process\(es\) itself/);
    expect(keel.output()).toMatch(/service wedged exited 0 after \d+ ms; stopped/);
    expect(keel.output()).toMatch(/poweroff now/);
    runc.set('ok');
  }, 120_000);
});

/** The cgroups of `service` below keel's cgroup parent, in every hierarchy mounted under /sys/fs/cgroup. */
function serviceCgroups(k: KeelNs, service: string): string[] {
  const root = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(root, 'cgroup.controllers')) ? [root] : readdirSync(root).map((h) => join(root, h));
  const parent = join('keel-test', basename(k.dir));
  return hierarchies.flatMap((h) => (existsSync(join(h, parent)) ? readdirSync(join(h, parent)).filter((d) => d === service || d.startsWith(`${service}+`)).map((d) => join(h, parent, d)) : []));
}

describe('a restart', () => {
  it('starts no runc delete for the dead attempt, and a stop leaves no state, bundle or cgroup of any attempt', async () => {
    const runc = breakableRunc();
    // slow-delete: every runc call is logged, and a delete would take 2 s.
    runc.set('slow-delete');
    keel = startKeel('services:\n' + svc('flaky', 'sleep 0.3; exit 1', 'backoff: {initial: 10ms, max: 10ms, jitter: 0}\nstartLimit: {burst: 1000, interval: 1m}'), { PATH: `${runc.path}:${process.env.PATH}` });
    await keel.waitFor(/boot complete/, 30_000);
    // Each attempt is a container of its own (flaky+N).
    await eventually(() => runc.calls().some((c) => /^end (run|start) flaky\+3$/.test(c)), 60_000, 'three attempts');
    expect(serviceCgroups(keel, 'flaky').length).toBeGreaterThan(0);
    const state = join(keel.dir, 'state');
    expect(keelCliAt(state, 'stop', 'flaky', '--wait').status).toBe(0);
    // The attempts' processes were all gone: their runc state went without a runc delete.
    expect(runc.calls().filter((c) => c.startsWith('begin delete'))).toEqual([]);
    expect(keel.runcContainers()).toEqual([]);
    expect(readdirSync(join(state, 'runc'))).toEqual([]);
    expect(readdirSync(join(state, 'containers'))).toEqual([]);
    // No hierarchy keeps a cgroup of the service or its attempts (the unified one of a hybrid host included).
    expect(serviceCgroups(keel, 'flaky')).toEqual([]);
    runc.set('ok');
  }, 120_000);
});

describe('a log line without an end', () => {
  it('keeps keel-init small and answering while a service writes without newlines, and marks the cut lines', async () => {
    keel = startKeel('services:\n' + svc('flood', 'exec cat /dev/zero', 'stopSignal: SIGKILL') + svc('bar', 'while :; do printf "\\r%s" "$(date +%s%N)"; done', 'stopSignal: SIGKILL'));
    await keel.waitFor(/all 2 service\(s\) ready/, 30_000);
    const state = join(keel.dir, 'state');
    const idle = rssMiB(keel.hostPid());
    let peak = idle;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 500));
      peak = Math.max(peak, rssMiB(keel.hostPid()));
      expect(keelCliAt(state, 'ps').status).toBe(0);
    }
    console.log(`keel-init RSS: ${idle.toFixed(1)} MiB before the flood, at most ${peak.toFixed(1)} MiB during 5 s of it`);
    // Unbounded, it was 897 MiB after 15 s; bounded, it stays near the rings' size (about +25 MiB on a
    // quiet machine). The 64 MiB target is bench/flood.ts's; here the bound only has to tell bounded from
    // not, and on a loaded machine the garbage collector runs late (+74 MiB was seen at load 11-15).
    expect(peak - idle).toBeLessThan(128);
    const logs = keelCliAt(state, 'logs', '-n', '3', 'flood').stdout.trim().split('\n');
    expect(logs).toHaveLength(3);
    for (const l of logs) expect(l).toMatch(/^\S+Z stdout\+ #1 \0{16384}$/);
    expect(inspectService(keel, 'flood').droppedLogLines).toBeGreaterThan(0);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});

describe('a flood of empty lines', () => {
  /** keel-init's CPU time so far (user and system), in seconds. */
  const cpuSeconds = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };

  it('takes a service\'s lines no faster than its budget, keeping keel-init mostly idle, and loses none of them', async () => {
    // `yes ''` writes a megabyte of newlines as fast as a pipe takes it: a million lines a second, each a ring
    // entry and a log file record. Byte budgets alone let all of them in, at a core's worth of keel-init's CPU.
    keel = startKeel('services:\n' + svc('blank', 'exec yes ""', 'stopSignal: SIGKILL\nlogs: {file: true, maxFileSize: 1GB}'));
    await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
    const log = join(keel.dir, 'state/logs/blank.log');
    const pid = keel.hostPid();
    await new Promise((r) => setTimeout(r, 1000));
    const [cpu0, lines0, t0] = [cpuSeconds(pid), readFileSync(log, 'utf8').split('\n').length, performance.now()];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect(keelCliAt(join(keel.dir, 'state'), 'ps').status).toBe(0);
    }
    const seconds = (performance.now() - t0) / 1000;
    const share = (cpuSeconds(pid) - cpu0) / seconds;
    const rate = (readFileSync(log, 'utf8').split('\n').length - lines0) / seconds;
    console.log(`keel-init used ${(share * 100).toFixed(0)} % of a core; ${rate.toFixed(0)} lines a second taken in`);
    expect(rate).toBeLessThan(6000); // the budget is 5000 a second
    expect(rate).toBeGreaterThan(1_000);
    expect(share).toBeLessThan(0.5);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    // Every line read was recorded whole: only empty stdout lines of the first attempt.
    const records = readFileSync(log, 'utf8').split('\n');
    expect(records.pop()).toBe('');
    expect(records.filter((l) => !/^\S+Z stdout #1 $/.test(l))).toEqual([]);
  }, 120_000);
});

describe('an output nobody reads', () => {
  it('queues at most a megabyte for a stalled stdout, then says how many lines it left out', async () => {
    const line = 'x'.repeat(200);
    keel = startKeel(`output: prefixed\nservices:\n${svc('talk', `while :; do yes ${line} | head -n 5000; sleep 0.1; done`, 'stopSignal: SIGKILL')}`);
    await keel.waitFor(/talk \| x{200}/, 30_000);
    keel.holdStdout(true);
    const pid = keel.hostPid();
    const rss0 = rssMiB(pid);
    await new Promise((r) => setTimeout(r, 8000)); // at the 1 MiB/s read budget: about 8 MB written meanwhile
    const grown = rssMiB(pid) - rss0;
    keel.holdStdout(false);
    const note = await keel.waitFor(/keel: … \d+ line\(s\) not written here: this output was not read fast enough[^\n]*/, 30_000);
    console.log(`RSS +${grown.toFixed(1)} MiB while stdout was not read; ${note}`);
    expect(Number(/… (\d+) line/.exec(note)![1])).toBeGreaterThan(10_000);
    const afterNote = () => keel!.output().slice(keel!.output().indexOf(note) + note.length);
    await eventually(() => /talk \| x{200}/.test(afterNote()), 10_000, 'lines of talk after the note');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});

describe('a long log read at once', () => {
  it('gives keel logs and keel events every kept line, the newest included, however far past a socket buffer', async () => {
    const line = 'y'.repeat(100);
    keel = startKeel('services:\n' + svc('app', `i=0; while [ $i -lt 3000 ]; do echo ${line}; i=$((i+1)); done; echo LAST-LINE; exec sleep 600`, 'stopSignal: SIGKILL'));
    const state = join(keel.dir, 'state');
    await eventually(() => keelCliAt(state, 'logs', '-n', '1', 'app').stdout.includes('LAST-LINE'), 30_000, 'the last line kept');
    const logs = keelCliAt(state, 'logs', 'app').stdout.trimEnd().split('\n');
    expect(logs).toHaveLength(3001); // 300 KB: it was cut at the first 64 KiB, newest lines lost, nothing said
    expect(logs.at(-1)).toMatch(/ stdout #1 LAST-LINE$/);
    const json = keelCliAt(state, 'logs', '--json', 'app').stdout.trimEnd().split('\n');
    expect(json).toHaveLength(3001);
    const events = keelCliAt(state, 'events', '--json').stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(events.some((e) => e.kind === 'events.lost')).toBe(false);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('output still in the pipe when its writer exits', () => {
  it("is all kept: read at once after the exit, not at the budgets' pace until the drain gives up", async () => {
    // seq blocks on the full pipe while keel reads 5,000 lines a second; when it exits, some 40,000 lines are still
    // in the pipe (256 KiB), eight seconds at that pace against the drain's two: they were cut off, nothing said.
    keel = startKeel('services:\n' + svc('burst', 'seq 1 60000; exit 0', 'restart: "no"\nlogs: {file: true, lines: 100000}'));
    await keel.waitFor(/service burst exited 0/, 60_000);
    const lines = readFileSync(join(keel.dir, 'state', 'logs', 'burst.log'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(60000);
    expect(lines.at(-1)).toMatch(/ stdout #1 60000$/);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 90_000);
});

describe("runc's state removed under a running container", () => {
  it('does not stop a stop: keel signals the container itself, says so, and its process is gone', async () => {
    keel = startKeel('services:\n' + svc('web', 'trap "exit 0" TERM; while :; do sleep 0.1; done # runc-state-gone'));
    await keel.waitFor(/service web running/, 30_000);
    const state = join(keel.dir, 'state');
    rmSync(join(state, 'runc'), { recursive: true, force: true });
    const r = keelCliAt(state, 'stop', 'web');
    expect(r.status, r.stderr).toBe(0);
    await keel.waitFor(/runc could not signal web\+1 \(runc does not know the container: its state directory is gone\); keel sent SIGTERM to \d+ process\(es\) itself/, 10_000);
    // Before, runc's "does not exist" passed for stopped: 10 s of stopTimeout, a SIGKILL that reached nothing, a service called stuck.
    await keel.waitFor(/service web exited 0 .*; stopped/, 5_000);
    expect(keel.output()).not.toMatch(/stuck in the kernel/);
    expect(keel.exec('ps -eo args').stdout).not.toMatch(/runc-state-gone/);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('a start during shutdown', () => {
  it('is refused with a reason, not accepted and dropped', async () => {
    keel = startKeel('services:\n' + svc('slow', 'trap "sleep 3; exit 0" TERM; while :; do sleep 0.1; done') + svc('other', GRACEFUL));
    await keel.waitFor(/all 2 service\(s\) ready/, 30_000);
    keel.signal('SIGTERM');
    await keel.waitFor(/service slow stopping/, 10_000);
    const r = keelCliAt(join(keel.dir, 'state'), 'restart', 'other');
    expect(r.stderr).toContain('keel is shutting down: other does not restart now');
    expect(r.status).toBe(1);
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('a console flood', () => {
  it('shows a burst of an onboot entry\'s lines on the console, counts the rest, and keeps them all in its log', async () => {
    keel = startKeel('onboot:\n' + shellEntry(rootfs, 'chatty', 'i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done'));
    await keel.waitFor(/onboot chatty exited 0/, 60_000);
    const shown = keel.output().split('\n').filter((l) => l.startsWith('  chatty | line '));
    expect(shown.length).toBeGreaterThanOrEqual(200);
    expect(shown.length).toBeLessThan(1000);
    const log = join(keel.dir, 'state/logs/onboot.chatty.log');
    const counted = [...keel.output().matchAll(/^ {2}chatty \| … (\d+) line\(s\) not shown here \(too many at once\)(.*)$/gm)];
    expect(shown.length + counted.reduce((n, m) => n + Number(m[1]), 0)).toBe(5000); // every line shown or counted
    expect(counted.at(-1)![2]).toBe(`; all are in ${log}`);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(5000);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('undo on failure', () => {
  it('leaves nothing mounted when a bundle cannot be written, and starts again once there is room', async () => {
    const state = mkdtempSync(join(tmpdir(), 'keel-tiny-'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0711', 'tmpfs', state]).status).toBe(0);
    cleanups.push(() => {
      spawnSync('umount', ['-l', state]);
      rmSync(state, { recursive: true, force: true });
    });
    keel = startKeel('services:\n' + svc('app', GRACEFUL, 'backoff: {initial: 200ms, max: 500ms}\nstartLimit: {burst: 1000, interval: 1m}'), {}, { stateDir: state });
    await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
    // With the service down, fill the state directory to the last byte, then start it.
    expect(keelCliAt(state, 'stop', 'app', '--wait').status).toBe(0);
    spawnSync('dd', ['if=/dev/zero', `of=${join(state, 'filler')}`, 'bs=64k'], { encoding: 'utf8' });
    expect(keelCliAt(state, 'start', 'app').status).toBe(0);
    await eventually(() => inspectService(state, 'app').exits.some((e) => /ENOSPC|no space/i.test(e.error ?? '')), 20_000, 'a start that failed for want of space');
    const overlays = () => readFileSync(`/proc/${keel!.hostPid()}/mountinfo`, 'utf8').split('\n').filter((l) => l.includes(join(state, 'containers'))).length;
    expect(overlays()).toBe(0); // every failed start undid its mount
    unlinkSync(join(state, 'filler'));
    await eventually(() => inspectService(state, 'app').state === 'ready', 20_000, 'the service to start again once there is room');
    expect(overlays()).toBe(1);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});

describe('a container that fills its root', () => {
  /** A state directory on a tmpfs of `size`, as a VM's /run/keel is. */
  function tmpfsState(size: string): string {
    const state = mkdtempSync(join(tmpdir(), 'keel-tmpfs-state-'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0711`, 'tmpfs', state]).status).toBe(0);
    cleanups.push(() => {
      spawnSync('umount', ['-l', state]);
      rmSync(state, { recursive: true, force: true });
    });
    return state;
  }
  const mountsUnder = (dir: string) => readFileSync(`/proc/${keel!.hostPid()}/mountinfo`, 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith(`${dir}/`)).length;

  it('leaves keel room in its state directory: writable layers share a tmpfs of their own, and writableSize gives one its own', async () => {
    const state = tmpfsState('8m');
    const fill = (mb: number) => `dd if=/dev/zero of=/fill bs=1M count=${mb} 2>&1; df -k / | tail -n 1; ${GRACEFUL}`;
    keel = startKeel(
      'services:\n' +
        svc('filler', fill(24)) +
        svc('capped', fill(4), 'writableSize: 1m') +
        svc('app', `echo up; ${GRACEFUL}`, 'logs: {file: true}'),
      {},
      { stateDir: state },
    );
    await keel.waitFor(/all 3 service\(s\) ready/, 30_000);
    const logOf = (name: string) => keelCliAt(state, 'logs', name).stdout;
    // 24 MiB went into filler's layer, three times what the whole state directory holds.
    await eventually(() => /24\+0 records out/.test(logOf('filler')), 20_000, 'filler to write 24 MiB');
    // capped's root is 1 MiB: dd stops there, and df says so.
    await eventually(() => /No space left on device/.test(logOf('capped')), 20_000, 'capped to run out of room');
    expect(logOf('capped')).toMatch(/ overlay\s+1024\s+\d+\s+\d+\s+\d+%\s+\/$/m);
    // keel's state still takes a bundle and log lines: app restarts and logs again.
    expect(keelCliAt(state, 'restart', 'app').status).toBe(0);
    await eventually(() => inspectService(state, 'app').state === 'ready' && readFileSync(join(state, 'logs/app.log'), 'utf8').match(/up/g)?.length === 2, 20_000, 'app to start again and log');
    expect(inspectService(state, 'app').exits.filter((e) => e.error)).toEqual([]);
    expect(mountsUnder(join(state, 'containers'))).toBe(3); // the three overlays
    expect(mountsUnder(state) - 3).toBe(2); // the layers' shared tmpfs, and capped's own
    // A restart deleted what the last run wrote: nothing of it is left to hold memory in the shared tmpfs.
    // Seen from keel-init's own mount namespace (unshare --mount-proc), where it mounted the layers' tmpfs.
    // (stat -f, statfs of the path itself: df would look the path up among this namespace's mounts.)
    const used = () => {
      const [blocks, free, size] = spawnSync('stat', ['-f', '-c', '%b %f %S', `/proc/${keel!.hostPid()}/root${join(state, 'layers')}`], { encoding: 'utf8' }).stdout.trim().split(' ').map(Number);
      return ((blocks! - free!) * size!) / 1024;
    };
    expect(used()).toBeGreaterThanOrEqual(24 * 1024);
    expect(keelCliAt(state, 'restart', 'filler').status).toBe(0);
    await eventually(() => (logOf('filler').match(/24\+0 records out/g) ?? []).length === 2, 20_000, 'filler to write again after its restart');
    expect(used()).toBeLessThan(25 * 1024); // one run's 24 MiB, not two
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    expect([readdirSync(join(state, 'containers')), readdirSync(join(state, 'layers'))]).toEqual([[], []]); // every layer unmounted and removed
  }, 90_000);

  it('refuses a writableSize that cannot hold anything or sizes nothing, at validation', () => {
    const file = join(fixtures, 'writable-size.yml');
    writeFileSync(file, 'services:\n' + svc('zero', 'true', 'writableSize: 0') + svc('both', 'true', 'readonly: true\nwritableSize: 1m') + '  - name: proc\n    kind: process\n    command: [/bin/true]\n    writableSize: 1m\n');
    const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'validate', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/services\[0\]\.writableSize: .*at least 64k/);
    expect(r.stderr).toMatch(/services\[1\]\.writableSize: .*a read-only container \(readonly: true\) has no writable layer to size; remove one of the two/);
    expect(r.stderr).toMatch(/services\[2\]\.writableSize: .*not for a process entry/);
  });
});

describe('durations', () => {
  it('waits as long as a duration says past 2^31 ms: an onboot timeout of 600h does not fire, nor a probe\'s, and a stopTimeout of 600h does not SIGKILL', async () => {
    keel = startKeel('onboot:\n' + shellEntry(rootfs, 'long', 'sleep 1; exit 0', 'timeout: 600h') + 'services:\n' + svc('patient', 'trap "sleep 1; exit 0" TERM; while :; do sleep 0.1; done', 'stopTimeout: 600h\nready: {exec: [sh, -c, "sleep 0.5"], timeout: 600h}'));
    await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
    expect(keel.output()).toMatch(/onboot long exited 0 in \d+ ms/);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    expect(keel.output()).toMatch(/service patient exited 0 after \d+ ms; stopped/);
    expect(keel.output()).not.toMatch(/still running .* SIGKILL|killed by SIGKILL|timed out/);
    expect(keel.output()).toMatch(/onboot, in order: long \(timeout 600h\)/);
  }, 60_000);
});

describe('only our own cgroups', () => {
  it('removes only the cgroup it made, and refuses a cgroupsPath whose cgroups below it runc would sweep away', async () => {
    const root = '/sys/fs/cgroup';
    const v2 = existsSync(join(root, 'cgroup.controllers'));
    const dirs = v2 ? [join(root, 'keel-test-pre')] : readdirSync(root).filter((c) => c !== 'unified' && existsSync(join(root, c, 'cgroup.procs'))).map((c) => join(root, c, 'keel-test-pre'));
    for (const d of dirs) mkdirSync(join(d, 'other'), { recursive: true });
    cleanups.push(() => {
      for (const d of dirs) {
        for (const x of [join(d, 'own'), join(d, 'other'), d]) {
          try {
            rmdirSync(x);
          } catch {
            /* already gone (the failure this test looks for) */
          }
        }
      }
    });
    keel = startKeel('onboot:\n' + shellEntry(rootfs, 'own', 'echo hi', 'cgroupsPath: /keel-test-pre/own') + shellEntry(rootfs, 'shared', 'echo hi', 'cgroupsPath: /keel-test-pre'));
    await keel.waitFor(/onboot own exited 0/, 30_000);
    await keel.waitFor(/onboot shared failed to start: cgroupsPath \/keel-test-pre is an existing cgroup with cgroups below it \(.*: other\), which runc would remove with the container; give the container a cgroup of its own, e\.g\. \/keel-test-pre\/NAME/, 30_000);
    for (const d of dirs) expect([existsSync(d), existsSync(join(d, 'other')), existsSync(join(d, 'own'))], d).toEqual([true, true, false]);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('refuses the root cgroup at validation', () => {
    const file = join(fixtures, 'root-cgroup.yml');
    writeFileSync(file, 'onboot:\n' + shellEntry(rootfs, 'x', 'true', 'cgroupsPath: /'));
    const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'validate', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/onboot\[0\]\.cgroupsPath: "\/": the root cgroup is the whole machine's; name a cgroup of its own/);
  });
});

describe('private state', () => {
  it('keeps bundles, configs, logs and what containers write from any user but root', async () => {
    keel = startKeel('onboot:\n' + shellEntry(rootfs, 'talker', 'echo the secret is $SECRET', 'env: [SECRET=hunter2]') + 'services:\n' + svc('web', `echo hunter2 > /data.txt; ${GRACEFUL}`, 'env: [SECRET=hunter2]\nlogs: {file: true}'));
    await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
    const state = join(keel.dir, 'state');
    // keel-init has a mount namespace of its own (unshare --mount-proc), where a tmpfs state directory gets the layers' tmpfs: look from there.
    const inKeel = (path: string) => `/proc/${keel!.hostPid()}/root${path}`;
    await eventually(() => existsSync(inKeel(join(state, 'layers/web+1/upper/data.txt'))), 10_000, 'the file the service writes');
    const asNobody = (cmd: string) => spawnSync('nsenter', ['-t', String(keel!.hostPid()), '-m', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd], { encoding: 'utf8' });
    expect(asNobody(`test -x ${state}`).status).toBe(0); // it may cross the state directory (containers in user namespaces must)
    for (const cmd of [
      `cat ${state}/containers/web+1/config.json`,
      `cat ${state}/layers/web+1/upper/data.txt`,
      `ls ${state}/containers`,
      `ls ${state}/layers`,
      `ls ${state}`,
      `cat ${state}/keel.log`,
      `cat ${state}/logs/onboot.talker.log`,
      `cat ${state}/logs/web.log`,
    ]) {
      const r = asNobody(cmd);
      expect([cmd, r.status, r.stdout]).toEqual([cmd, r.status === 0 ? -1 : r.status, '']);
      expect(r.stderr, cmd).toMatch(/Permission denied/);
    }
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('reporting', () => {
  it('reports a service at its pids limit as an event and in keel inspect', async () => {
    keel = startKeel('services:\n' + svc('forky', `sh -c 'while :; do sleep 1000 & done' 2>/dev/null; ${GRACEFUL}`, 'resources: {pids: {limit: 8}}\nstopSignal: SIGKILL'));
    await keel.waitFor(/service forky is at its pids limit \(8\): \d+ fork\(s\) refused so far/, 30_000);
    expect(inspectService(keel, 'forky').pidsLimitHits).toBeGreaterThan(0);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('the environment runc and the other helpers get', () => {
  it('is the one keel was given: not the thread-pool size keel set for itself', async () => {
    // A runc in front of the real one that writes down the environment each call got.
    const dir = runcInFront('runc-env', (real, at) => `#!/bin/sh\nenv > ${at}/env.$$\nexec ${real} "$@"\n`);
    keel = startKeel('services:\n' + svc('web', GRACEFUL), { PATH: `${dir}:${process.env.PATH}`, KEEL_TEST_GIVEN: 'kept' });
    await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
    const envs = readdirSync(dir).filter((f) => f.startsWith('env.')).map((f) => readFileSync(join(dir, f), 'utf8').split('\n'));
    expect(envs.length).toBeGreaterThan(0);
    for (const env of envs) {
      expect(env).toContain('KEEL_TEST_GIVEN=kept');
      expect(env.filter((l) => l.startsWith('UV_THREADPOOL_SIZE='))).toEqual([]);
    }
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('keel under a service manager that set NOTIFY_SOCKET (systemd Type=notify, podman --sdnotify)', () => {
  it('starts its containers: runc does not take the socket meant for keel as its own and wait on it', async () => {
    // A datagram socket that listens and never answers: runc, given it, waits on every start for a READY=1.
    const path = join(fixtures, 'manager-notify.sock');
    const listener = spawnSync('sh', ['-c', `python3 -c 'import socket,time,os; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("${path}"); time.sleep(120)' >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
    const pid = Number(listener.stdout.trim());
    cleanups.push(() => {
      try {
        process.kill(pid);
      } catch {
        /* gone */
      }
      rmSync(path, { force: true });
    });
    await eventually(() => existsSync(path), 10_000, 'the manager socket');
    keel = startKeel('services:\n' + svc('web', GRACEFUL), { NOTIFY_SOCKET: path, WATCHDOG_USEC: '1000000' });
    await keel.waitFor(/all 1 service\(s\) ready/, 30_000);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

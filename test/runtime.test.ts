// onboot and onshutdown with real runc containers, keel-init as PID 1 of a
// PID namespace, busybox-static root filesystems as images.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startKeel, type KeelNs } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';

let fixtures: string;
let rootfs: string;
let keel: KeelNs | undefined;

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-rt-'));
  rootfs = busyboxRootfs(join(fixtures, 'busybox'));
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

/** One onboot/onshutdown entry in YAML flow style. */
const entry = (name: string, script: string, extra = ''): string => shellEntry(rootfs, name, script, extra);

async function bootAndStop(k: KeelNs): Promise<string> {
  await k.waitFor(/boot complete|EMERGENCY/, 60_000);
  // runc's version is asked once boot is done (off the path to the first container): its answer ends boot's work.
  if (!/EMERGENCY/.test(k.output())) await k.waitFor(/keel: runc \d|did not answer --version/, 60_000);
  expect(k.runcContainers()).toEqual([]); // nothing left after the phase
  expect(k.others()).toEqual([]); // no zombie, no straggler
  k.signal('SIGTERM');
  expect(await k.exited).toEqual({ code: 0, signal: null });
  expect(k.runcContainers()).toEqual([]);
  return k.output();
}

function logOf(k: KeelNs, id: string): string[] {
  return readFileSync(join(k.dir, 'state', 'logs', `${id}.log`), 'utf8').split('\n').filter((l) => l !== '');
}

describe('onboot', () => {
  it('runs entries in order to completion, reports exit codes and timeouts, and boot goes on', async () => {
    keel = startKeel(
      'onboot:\n' +
        entry('first', 'echo one') +
        entry('fails', 'echo about to fail >&2; exit 3') +
        entry('slow', 'echo started; sleep 100', 'timeout: 300ms') +
        entry('last', 'echo done; printf "no final newline"'),
    );
    const out = await bootAndStop(keel);
    const order = ['onboot first exited 0', 'onboot fails exited 3', 'onboot slow timed out and was killed (SIGKILL)', 'onboot last exited 0', 'boot complete'];
    const positions = order.map((s) => out.indexOf(s));
    expect(positions.every((p) => p >= 0), out).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // A failure comes with the last lines of its log.
    expect(out).toMatch(/ERROR: onboot fails exited 3 in \d+ ms\nkeel:   last lines of its log \(.*onboot\.fails\.log\):\nkeel:     \| about to fail/);
    expect(out).toContain('onboot: 4 ran, 2 failed');
    expect(out).toContain('  first | one');
    // The line without a newline is kept, in the console and in the log.
    expect(out).toContain('  last | no final newline');
    expect(logOf(keel, 'onboot.last').map((l) => l.split(' ').slice(1).join(' '))).toEqual(['stdout done', 'stdout no final newline']);
    expect(logOf(keel, 'onboot.fails')[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stderr about to fail$/);
  });

  it('keeps every one of 10,000 log lines, in order', async () => {
    keel = startKeel('onboot:\n' + entry('chatty', 'seq 1 10000; printf tail'));
    await bootAndStop(keel);
    const lines = logOf(keel, 'onboot.chatty').map((l) => l.slice(l.indexOf(' stdout ') + 8));
    expect(lines.length).toBe(10_001);
    expect(lines.slice(0, 10_000)).toEqual(Array.from({ length: 10_000 }, (_, i) => String(i + 1)));
    expect(lines[10_000]).toBe('tail');
  });

  it('honours readonly, capabilities, binds and sysctl in its own network namespace', async () => {
    const shared = join(fixtures, 'shared');
    mkdirSync(shared, { recursive: true });
    const hostForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    keel = startKeel(
      'onboot:\n' +
        entry('ro', 'touch /new-file', 'readonly: true') +
        entry('rw', 'touch /new-file && echo wrote') +
        entry('caps', 'grep CapEff /proc/self/status', 'capabilities: [CAP_NET_ADMIN]') +
        entry('defaults', 'grep CapEff /proc/self/status; cat /proc/kcore | head -c 1; echo x > /proc/sys/kernel/domainname') +
        entry('bind', 'echo from-container > /shared/note', `binds: ["${shared}:/shared"]`) +
        entry('sysctl', 'cat /proc/sys/net/ipv4/ip_forward; ip link | grep -c "^[0-9]"', 'net: new\nsysctl:\n  net.ipv4.ip_forward: "1"') +
        entry('hostname', 'hostname', 'uts: new\nhostname: boxed'),
    );
    const out = await bootAndStop(keel);
    expect(out).toMatch(/ro \| touch: \/new-file: Read-only file system/);
    expect(out).toMatch(/onboot ro exited 1/);
    expect(out).toMatch(/onboot rw exited 0/);
    expect(existsSync(join(rootfs, 'new-file'))).toBe(false); // the image stays pristine: writes go to an overlay
    expect(out).toContain('caps | CapEff:\t0000000000001000'); // CAP_NET_ADMIN is bit 12, and nothing else
    expect(out).toContain('defaults | CapEff:\t00000000a80425fb'); // Docker's default set
    expect(out).toMatch(/defaults \| .*(Permission denied|Read-only file system)/); // /proc/sys is read-only
    expect(readFileSync(join(shared, 'note'), 'utf8')).toBe('from-container\n');
    expect(out).toContain('sysctl | 1');
    expect(out).toContain('sysctl | 1\n'); // one interface: loopback only
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(hostForward);
    expect(out).toContain('hostname | boxed');
  });

  it('honours the process and cgroup fields: user, env, cwd, rlimits, oomScoreAdj, noNewPrivileges, tmpfs, devices, cgroup', async () => {
    keel = startKeel(
      'onboot:\n' +
        entry(
          'proc',
          'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; echo "cwd=$PWD greeting=$GREETING"; echo "nofile=$(ulimit -n)"; echo "oom=$(cat /proc/self/oom_score_adj)"; grep NoNewPrivs /proc/self/status; grep " /scratch " /proc/mounts | cut -d" " -f3',
          'uid: 1000\ngid: 1000\nadditionalGids: [10]\nenv: [GREETING=hello, PATH=/bin]\ncwd: /tmp\nrlimits: ["nofile,100,200"]\noomScoreAdj: 500\nnoNewPrivileges: true\ntmpfs: ["/scratch:size=1m"]',
        ) +
        entry('dev', 'head -c 3 /dev/zero2 | od -An -tx1; mknod /dev/sda b 8 0; head -c 1 /dev/sda', 'devices:\n  - path: /dev/zero2\n    type: c\n    major: 1\n    minor: 5\n    mode: "0666"') +
        entry('cg', 'cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight', 'cgroupsPath: /keel-custom/cg\nresources:\n  cpu:\n    shares: 512'),
    );
    const out = await bootAndStop(keel);
    expect(out).toContain('proc | uid=1000 gid=1000 groups=1000 10');
    expect(out).toContain('proc | cwd=/tmp greeting=hello');
    expect(out).toContain('proc | nofile=100');
    expect(out).toContain('proc | oom=500');
    expect(out).toContain('proc | NoNewPrivs:\t1');
    expect(out).toContain('proc | tmpfs');
    expect(out).toContain('dev |  00 00 00');
    expect(out).toMatch(/dev \| head: \/dev\/sda: Operation not permitted/); // made, but not on the device allow-list
    expect(out).toMatch(/cg \| (512|20)\n/); // cpu.shares 512 on v1, the matching cpu.weight on v2
  });

  it('runs in a user namespace with its root mapped to an unprivileged host uid, writing to its overlay (on its own tmpfs too)', async () => {
    const mapped = 'userns: new\nnet: new\nuidMappings: [{containerID: 0, hostID: 100000, size: 65536}]\ngidMappings: [{containerID: 0, hostID: 100000, size: 65536}]';
    const script = 'cat /proc/self/uid_map; id -u; touch /written && echo wrote; mkdir -p /a/b && echo made';
    keel = startKeel('onboot:\n' + entry('mapped', script, mapped) + entry('sized', script, `${mapped}\nwritableSize: 1m`));
    const out = await bootAndStop(keel);
    for (const name of ['mapped', 'sized']) {
      expect(out).toMatch(new RegExp(`${name} \\| +0 +100000 +65536`));
      expect(out).toContain(`${name} | 0\n`);
      expect(out).toContain(`${name} | wrote`);
      expect(out).toContain(`${name} | made`);
    }
  });

  it('says that writableSize is not used when the image label makes the root read-only', async () => {
    const image = join(fixtures, 'label-readonly');
    mkdirSync(image, { recursive: true });
    if (!existsSync(join(image, 'rootfs'))) execFileSync('cp', ['-a', rootfs, join(image, 'rootfs')]);
    writeFileSync(join(image, 'keel-image.json'), JSON.stringify({ labels: { 'org.mobyproject.config': JSON.stringify({ readonly: true }) } }));
    keel = startKeel(`onboot:\n  - name: ro\n    image: ${image}\n    writableSize: 1m\n    command: ["/bin/sh", "-c", "touch /x 2>&1 || echo read-only"]\n`);
    const out = await bootAndStop(keel);
    expect(out).toContain('onboot.ro: writableSize is not used: its image\'s label makes its root read-only, so it has no writable layer');
    expect(out).toMatch(/ro \| .*Read-only file system/);
  });

  it("takes LinuxKit's resources.devices rules after its deny-all: a rule allowing writes to /dev/kmsg's device lets it be opened", async () => {
    // runc lets any container mknod; opening the node is what the device cgroup decides. Opened write-only, /dev/kmsg takes nothing.
    const open = 'mknod /tmp/kmsg c 1 11 && exec 3>/tmp/kmsg && echo opened';
    keel = startKeel('onboot:\n' + entry('plain', open) + entry('allowed', open, 'resources:\n  devices: [{allow: true, type: c, major: 1, minor: 11, access: w}]\n  memory: {kernel: 64m}'));
    const out = await bootAndStop(keel);
    expect(out).toContain("plain | /bin/sh: can't create /tmp/kmsg: Operation not permitted");
    expect(out).toContain('allowed | opened');
  });

  it('reports an OOM kill at its memory limit and a fork failure at its pids limit', async () => {
    keel = startKeel(
      'onboot:\n' +
        entry('hungry', 'exec dd if=/dev/zero of=/dev/null bs=64M count=4', 'resources:\n  memory:\n    limit: 16m\n    swap: 16m') +
        entry('child-oom', 'dd if=/dev/zero of=/dev/null bs=64M count=4; echo survived', 'resources:\n  memory:\n    limit: 16m\n    swap: 16m') +
        entry('forky', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; wait; echo all forked', 'resources:\n  pids:\n    limit: 5'),
    );
    const out = await bootAndStop(keel);
    expect(out).toMatch(/ERROR: onboot hungry was killed by the OOM killer \(SIGKILL\) in \d+ ms/);
    // Only a child was killed: the init survives, and the report still says what the OOM killer did.
    expect(out).toContain('child-oom | survived');
    expect(out).toMatch(/ERROR: onboot child-oom exited 0 \(the OOM killer killed 1 of its processes\) in \d+ ms/);
    expect(out).toMatch(/forky \| .*can't fork/);
    expect(out).not.toContain('all forked');
  });

  it('stops boot in the emergency state when a critical entry fails, and still shuts down', async () => {
    keel = startKeel('onboot:\n' + entry('must', 'echo cannot mount data; exit 2', 'critical: true') + entry('after', 'echo should not run'));
    await keel.waitFor(/EMERGENCY: boot stopped: the critical onboot entry must failed/);
    await keel.waitFor(/it exited 2/);
    expect(keel.output()).toContain('| cannot mount data');
    expect(keel.output()).not.toContain('should not run');
    expect(keel.output()).not.toContain('boot complete');
    await bootAndStop(keel);
  });

  it('reports an entry that cannot start, leaves nothing behind, and goes on', async () => {
    keel = startKeel('onboot:\n' + entry('nocmd', '', '').replace('command: ["/bin/sh", "-c", ""]', 'command: ["/no/such/program"]') + `  - name: noimage\n    image: ${join(fixtures, 'missing')}\n` + entry('fine', 'echo fine'));
    const out = await bootAndStop(keel);
    expect(out).toMatch(/ERROR: onboot nocmd failed to start: runc (create|run) onboot\.nocmd: .*no such file/);
    expect(out).toMatch(/ERROR: onboot noimage failed to start: image .*missing is not a directory/);
    expect(out).toMatch(/onboot fine exited 0/);
    // Its cgroup (memory, the hierarchy every container has under cgroup v1) was made and removed.
    const parent = `/sys/fs/cgroup/memory/keel-test/${basename(keel.dir)}`;
    expect(existsSync(parent)).toBe(true);
    expect(readdirSync(parent).filter((n) => existsSync(join(parent, n, 'cgroup.procs')))).toEqual([]);
  });

  it('uses an OCI bundle directory as an image, with its process as the image config', async () => {
    const bundle = join(fixtures, 'bundle');
    busyboxRootfs(join(bundle, 'rootfs'));
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['/bin/sh', '-c', 'echo from bundle in $PWD $GREETING'], env: ['GREETING=hi'], cwd: '/tmp' } }));
    keel = startKeel(`onboot:\n  - name: bundled\n    image: ${bundle}\n`);
    const out = await bootAndStop(keel);
    expect(out).toContain('bundled | from bundle in /tmp hi');
  });

  it('does the runtime section: mkdir, a veth pair into the container, and a bound network namespace', async () => {
    const nsPath = '/run/keel-test-netns/onboot-net';
    keel = startKeel(
      'onboot:\n' +
        entry('net', 'ip link show dev eth-in | head -1; ls -d /made; grep -c " /mnt/scratch " /proc/mounts', `net: new\nbinds: ["/run/keel-test-dir:/made", "/run/keel-test-mnt:/mnt/scratch"]\nruntime:\n  mkdir: [/run/keel-test-dir]\n  mounts:\n    - type: tmpfs\n      source: tmpfs\n      destination: /run/keel-test-mnt\n  cgroups: [keel-test-extra]\n  interfaces:\n    - name: eth-in\n      add: veth\n      peer: eth-out\n  bindNS:\n    net: ${nsPath}`) +
        entry('joiner', 'ip link show dev eth-in | head -1', `net: ${nsPath}`),
      {},
      { ownNetwork: true },
    );
    const out = await bootAndStop(keel);
    expect(out).toMatch(/net \| \d+: eth-in@/);
    expect(out).toContain('net | /made');
    expect(out).toContain('net | 1'); // the runtime mount, bound in
    expect(out).toMatch(/onboot net exited 0/);
    // The bound namespace outlives its container, and a later container joins it by path.
    expect(out).toMatch(/joiner \| \d+: eth-in@/);
    for (const p of ['/run/keel-test-netns', '/run/keel-test-dir', '/run/keel-test-mnt']) rmSync(p, { recursive: true, force: true });
  });
});

describe('LinuxKit constructs', () => {
  it('runs a name twice, each with a log of its own; mounts at relative destinations; names the module a missing link kind needs', async () => {
    keel = startKeel(
      'onboot:\n' +
        entry('step', 'echo first') +
        entry('step', 'echo second; grep " /scratch " /proc/mounts | cut -d" " -f3; grep " /data " /proc/mounts | cut -d" " -f3; ls -d /made', 'mounts:\n  - {type: tmpfs, source: tmpfs, destination: data}\nruntime:\n  mkdir: [made]\n  mounts:\n    - {type: tmpfs, source: tmpfs, destination: scratch}') +
        // This machine's kernel has no dummy link type (a VM's does: test/vm-linuxkit.test.ts).
        entry('links', 'true', 'net: new\nruntime:\n  interfaces:\n    - {name: d0, add: dummy}'),
      {},
      { ownNetwork: true },
    );
    const out = await bootAndStop(keel);
    expect(out).toMatch(/step \| first\n[\s\S]*step \| second\n {2}step \| tmpfs\n {2}step \| tmpfs\n {2}step \| \/made/);
    expect(logOf(keel, 'onboot.step.1')).toEqual([expect.stringMatching(/ stdout first$/)]);
    expect(logOf(keel, 'onboot.step.2')[0]).toMatch(/ stdout second$/);
    expect(out).toMatch(/onboot links failed to start: runtime\.interfaces: d0: this kernel has no "dummy" link type; load its module \(kernel\.modules: \[dummy\]\)/);
  });
});

describe('onshutdown', () => {
  it('runs after SIGTERM, in order, before the power action', async () => {
    keel = startKeel('onshutdown:\n' + entry('first', 'echo saving state') + entry('second', 'echo so long'));
    await keel.waitFor(/boot complete/);
    await eventually(() => keel!.others().length === 0, 5000, 'a quiet namespace');
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    const out = keel.output();
    const order = ['SIGTERM: poweroff', 'onshutdown first exited 0', 'onshutdown second exited 0', 'poweroff now'].map((s) => out.indexOf(s));
    expect(order.every((p) => p >= 0), out).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(out).toContain('second | so long');
    expect(keel.runcContainers()).toEqual([]);
  });

  it('a shutdown during onboot stops its entry first, starts no other, then runs onshutdown', async () => {
    keel = startKeel('onboot:\n' + entry('long', 'echo working; sleep 600') + entry('never', 'echo should not run') + 'onshutdown:\n' + entry('bye', 'echo so long'));
    await keel.waitFor(/long \| working/, 30_000);
    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
    const out = keel.output();
    const order = ['SIGTERM: poweroff', 'onboot long is stopped: keel is shutting down', 'onboot: not run, keel is shutting down: never', 'onshutdown bye exited 0', 'poweroff now'].map((s) => out.indexOf(s));
    expect(order.every((p) => p >= 0), out).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(out).not.toContain('should not run');
    expect(out).not.toContain('EMERGENCY');
    expect(out).not.toContain('boot complete'); // boot was cut short, not completed
    expect(keel.runcContainers()).toEqual([]);
  });
});

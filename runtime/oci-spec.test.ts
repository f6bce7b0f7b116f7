import { describe, expect, it } from 'vitest';
import { parseManifest, type ContainerEntry } from '../model/index.js';
import { validateOciConfig } from '../test/helpers/oci-schema.js';
import { boundingCapabilities, buildOciSpec, DEFAULT_MASKED_PATHS, SpecError, specJson, type ImageConfig } from './oci-spec.js';

function entryOf(yaml: string): ContainerEntry {
  // "other" exists so that entries may name it as a uid or gid.
  const text = `onboot:\n  - name: test\n    image: /images/x\n${yaml.replace(/^/gm, '    ')}\n  - name: other\n    image: /images/y\n`;
  return parseManifest(text, 'keel.yml').onboot[0]!;
}

function build(yaml: string, image: ImageConfig = {}) {
  return buildOciSpec({ entry: entryOf(yaml), image, rootfs: '/bundle/rootfs', idOf: (n) => (n === 'other' ? 101 : undefined) });
}

const label = (config: Record<string, unknown>): ImageConfig => ({ labels: { 'org.mobyproject.config': JSON.stringify(config) } });

describe('OCI spec defaults', () => {
  const { spec } = build('command: [/bin/true]');

  it("gives Docker's default capabilities and masked paths", () => {
    expect(spec.process.capabilities.effective).toEqual(
      ['CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT'],
    );
    expect(spec.process.capabilities.ambient).toEqual([]);
    expect(spec.linux.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
    expect(spec.process.noNewPrivileges).toBe(true);
  });

  it("uses LinuxKit's namespaces: new pid, mount and cgroup; host network, ipc and uts", () => {
    expect(spec.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'mount', 'cgroup']);
  });

  it('mounts a tmpfs /dev, read-only /sys, in parent-first order, and a cgroup of its own', () => {
    expect(spec.mounts.map((m) => m.destination)).toEqual(['/dev', '/dev/pts', '/dev/shm', '/proc', '/sys', '/sys/fs/cgroup']);
    expect(spec.mounts.find((m) => m.destination === '/dev')?.type).toBe('tmpfs');
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(spec.linux.cgroupsPath).toBe('/keel/test');
    expect(spec.process.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(spec.process.cwd).toBe('/');
  });
});

describe('OCI spec precedence: image config < label < manifest', () => {
  const image: ImageConfig = { entrypoint: ['/entry'], cmd: ['arg'], env: ['A=image'], workingDir: '/srv' };

  it('takes the command, env and cwd from the image when nothing else says', () => {
    const { spec } = build('', image);
    expect(spec.process.args).toEqual(['/entry', 'arg']);
    expect(spec.process.env).toEqual(['A=image']);
    expect(spec.process.cwd).toBe('/srv');
  });

  it('lets the label override the image, and the manifest override both', () => {
    const withLabel = { ...image, ...label({ command: ['/label'], env: ['A=label'], capabilities: ['CAP_NET_ADMIN'], binds: ['/a:/a'] }) };
    expect(build('', withLabel).spec.process.args).toEqual(['/label']);
    const { spec } = build('command: [/manifest]\nenv: [A=manifest]\ncwd: /tmp\ncapabilities.add: [CAP_SYS_TIME]\nbinds.add: ["/b:/b:ro"]', withLabel);
    expect(spec.process.args).toEqual(['/manifest']);
    expect(spec.process.env).toEqual(['A=manifest']);
    expect(spec.process.cwd).toBe('/tmp');
    expect(spec.process.capabilities.effective).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
    expect(spec.mounts.filter((m) => m.type === 'bind').map((m) => [m.destination, m.options])).toEqual([
      ['/a', ['rw', 'rbind', 'rshared']],
      ['/b', ['ro', 'rbind']],
    ]);
    // capabilities and binds (not .add) replace what the label gives
    const replaced = build('capabilities: [none]\nbinds: []', withLabel).spec;
    expect(replaced.process.capabilities.effective).toEqual([]);
    expect(replaced.mounts.some((m) => m.type === 'bind')).toBe(false);
  });

  it('refuses a label that is not valid, naming the label and field', () => {
    expect(() => build('command: [/x]', label({ capabilities: ['CAP_FLY'] }))).toThrow(/label org\.mobyproject\.config: capabilities\[0\]: "CAP_FLY": unknown capability/);
    expect(() => build('command: [/x]', { labels: { 'org.mobyproject.config': '{nope' } })).toThrow(SpecError);
  });
});

describe('OCI spec fields', () => {
  it('gives a privileged container (CAP_SYS_ADMIN) no masks and a writable /sys', () => {
    const { spec } = build('command: [/x]\ncapabilities: [all]');
    expect(spec.process.capabilities.effective).toContain('CAP_SYS_ADMIN');
    expect(spec.linux.maskedPaths).toEqual([]);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).not.toContain('ro');
  });

  it('reads "all" as every capability keel has: its bounding set (runc cannot grant one keel lacks)', () => {
    expect(boundingCapabilities('Name:\tx\nCapBnd:\t000001fffeffffff\n')).toHaveLength(40);
    expect(boundingCapabilities('CapBnd:\t000001fffeffffff\n')).not.toContain('CAP_SYS_RESOURCE');
    expect(boundingCapabilities('CapBnd:\t0000000000200001\n')).toEqual(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
    expect(boundingCapabilities('')).toHaveLength(41);
  });

  it('writes "unlimited" rlimits as 2^64-1', () => {
    const { spec } = build('command: [/x]\nrlimits: ["nofile,100,200", "memlock,unlimited,unlimited"]');
    expect(spec.process.rlimits[0]).toEqual({ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 });
    expect(specJson(spec)).toContain('"soft": 18446744073709551615');
  });

  it('maps container names to ids and joins namespaces by path', () => {
    const { spec } = build('command: [/x]\nuid: other\ngid: 0\nadditionalGids: [other, 5]\nnet: /run/netns/x\nipc: new');
    expect(spec.process.user).toEqual({ uid: 101, gid: 0, additionalGids: [101, 5] });
    expect(spec.linux.namespaces).toContainEqual({ type: 'network', path: '/run/netns/x' });
    expect(spec.mounts.some((m) => m.destination === '/dev/mqueue')).toBe(true);
  });

  it.each([
    ['command: [/x]\nhostname: h', /hostname needs its own UTS namespace; add "uts: new"/],
    ['command: [/x]\nsysctl:\n  net.ipv4.ip_forward: "1"', /net\.\* sysctls would change the host's network namespace/],
    ['', /no command: the image has no Entrypoint or Cmd/],
    ['command: [/x]\nmounts:\n  - destination: /data', /the mount for \/data needs a type/],
  ])('refuses %j with a fix', (yaml, message) => {
    expect(() => build(yaml)).toThrow(message);
  });

  it('gives no-new-privileges unless the entry or its label says false', () => {
    expect(build('command: [/x]\nnoNewPrivileges: false').spec.process.noNewPrivileges).toBe(false);
    expect(build('command: [/x]', label({ noNewPrivileges: false })).spec.process.noNewPrivileges).toBe(false);
    expect(build('command: [/x]\nnoNewPrivileges: true', label({ noNewPrivileges: false })).spec.process.noNewPrivileges).toBe(true);
  });

  it('produces configs that validate against the OCI runtime-spec schema', () => {
    const everything = build(
      [
        'command: [/bin/sh, -c, "exit 0"]',
        'env: [A=1]',
        'cwd: /work',
        'capabilities: [CAP_NET_ADMIN, CAP_SYS_ADMIN]',
        'ambient: [CAP_NET_ADMIN]',
        'mounts:\n  - type: tmpfs\n    destination: /scratch\n    options: [size=1m]',
        'binds: ["/src:/dst:ro"]',
        'tmpfs: ["/run:size=1m"]',
        'devices:\n  - path: /dev/fuse\n    type: c\n    major: 10\n    minor: 229\n    mode: "0666"\n  - path: all\n    type: b',
        'net: new',
        'ipc: new',
        'uts: new',
        'hostname: box',
        'readonly: true',
        'maskedPaths: [/proc/kcore]',
        'readonlyPaths: [/proc/sys]',
        'uid: 1000',
        'gid: 1000',
        'additionalGids: [10]',
        'noNewPrivileges: true',
        'oomScoreAdj: -500',
        'disableOOMKiller: false',
        'rootfsPropagation: slave',
        'cgroupsPath: /custom/path',
        'resources:\n  memory:\n    limit: 64m\n    reservation: 32m\n  cpu:\n    shares: 512\n    quota: 50000\n    period: 100000\n  pids:\n    limit: 100\n  blockIO:\n    weight: 500',
        'sysctl:\n  net.ipv4.ip_forward: "1"',
        'rlimits: ["nofile,1024,4096"]',
        'annotations:\n  org.example/a: b',
      ].join('\n'),
    ).spec;
    for (const spec of [everything, build('command: [/x]').spec, build('command: [/x]\ncapabilities: [none]').spec, build('command: [/x]\nseccomp: unconfined').spec]) {
      const errors = validateOciConfig(JSON.parse(specJson(spec)));
      expect(errors, errors.join('\n')).toEqual([]);
    }
  });
});

describe('seccomp', () => {
  const blocked = (yaml: string, image: ImageConfig = {}) => {
    const s = build(`command: [/x]\n${yaml}`, image).spec.linux.seccomp;
    return s === undefined ? undefined : s.syscalls!.filter((r) => !r.args).flatMap((r) => r.names);
  };

  it("applies keel's filter by default: errno EPERM for what a container with Docker's capabilities has no business calling", () => {
    const { seccomp } = build('command: [/x]').spec.linux;
    expect(seccomp).toMatchObject({ defaultAction: 'SCMP_ACT_ALLOW' });
    expect(seccomp!.architectures).toEqual(process.arch === 'x64' ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] : expect.any(Array));
    expect(blocked('')).toEqual(expect.arrayContaining(['init_module', 'kexec_load', 'reboot', 'mount', 'pivot_root', 'unshare', 'setns', 'keyctl', 'add_key', 'userfaultfd', 'io_uring_setup', 'bpf', 'perf_event_open', 'clock_settime', 'open_by_handle_at', 'uselib']));
    expect(seccomp!.syscalls!.find((r) => r.names.includes('keyctl'))).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
    // clone3 gets ENOSYS, so the C library falls back to clone, whose namespace flags are refused one rule each.
    expect(seccomp!.syscalls!.find((r) => r.names.includes('clone3'))).toMatchObject({ errnoRet: 38 });
    expect(seccomp!.syscalls!.filter((r) => r.names[0] === 'clone' && r.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ')).toHaveLength(7);
    // What a plain container does is never in it.
    expect(blocked('')).not.toEqual(expect.arrayContaining(['clone']));
    for (const name of ['read', 'write', 'execve', 'clone', 'fork', 'socket', 'adjtimex', 'chroot', 'ptrace']) expect(blocked('')).not.toContain(name);
  });

  it('lets through what the capabilities allow', () => {
    expect(blocked('capabilities.add: [CAP_SYS_TIME]')).not.toContain('clock_settime');
    expect(blocked('capabilities.add: [CAP_SYS_MODULE]')).not.toContain('init_module');
    expect(blocked('capabilities.add: [CAP_BPF]')).not.toContain('bpf');
    expect(blocked('capabilities.add: [CAP_SYS_ADMIN]')).not.toEqual(expect.arrayContaining(['mount', 'unshare', 'keyctl', 'io_uring_setup', 'clone3']));
    // A privileged LinuxKit container keeps only the obsolete calls closed, and may make namespaces.
    const all = build('command: [/x]\ncapabilities: [all]').spec.linux.seccomp!;
    expect(all.syscalls!.map((r) => r.names)).toEqual([expect.arrayContaining(['uselib', '_sysctl'])]);
  });

  it('applies none with seccomp: unconfined, from the entry or its label; the entry wins', () => {
    expect(blocked('seccomp: unconfined')).toBeUndefined();
    expect(blocked('', label({ seccomp: 'unconfined' }))).toBeUndefined();
    expect(blocked('seccomp: default', label({ seccomp: 'unconfined' }))).toContain('keyctl');
  });

  it('takes a profile from the label in OCI form, and refuses a file named by a label', () => {
    const profile = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] };
    expect(build('command: [/x]', label({ seccomp: profile })).spec.linux.seccomp).toEqual(profile);
    expect(() => build('command: [/x]', label({ seccomp: 'profile.json' }))).toThrow(/seccomp "profile\.json": a profile file is read when the manifest is loaded, relative to it; an image label gives default, unconfined, or the profile itself/);
  });
});

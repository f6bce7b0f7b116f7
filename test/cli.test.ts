// The keel CLI as a docker, kubectl or linuxkit user meets it, without a VM:
// each verb's help, mistakes said in one line, exit codes a script can use,
// what needs root said as such, machine-readable validate, and the shell
// completion driven in bash and zsh themselves. The real dist/keel.js.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pty from 'node-pty';
import { afterAll, describe, expect, it } from 'vitest';
import { parseVerbArgs } from '../api/commands/args.js';
import { findSpec } from '../pkg/cli/host-specs.js';
import { DIST, requireDist, startKeel } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';

const REPO = resolve(import.meta.dirname, '..');
const KEEL = join(DIST, 'keel.js');
// Readable by the unprivileged user the root tests run as.
const dir = mkdtempSync(join(tmpdir(), 'keel-cli-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function keel(args: string[], opts: { input?: string; env?: Record<string, string>; as?: 'nobody' } = {}): Run {
  const cmd = opts.as ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, KEEL, ...args] : [process.execPath, KEEL, ...args];
  const r: SpawnSyncReturns<string> = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input: opts.input ?? '', env: { ...process.env, ...opts.env }, timeout: 60_000, cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every verb, as `keel help` lists them (two spaces, the name, its arguments). */
function verbs(): string[] {
  requireDist();
  return keel(['help']).stdout.split('\n').flatMap((l) => /^ {2}([a-z][a-z-]*)\b/.exec(l)?.[1] ?? []);
}

describe('help', () => {
  it('lists every verb, host and control, once', () => {
    const all = verbs();
    expect(all).toEqual(expect.arrayContaining(['build', 'run', 'validate', 'schema', 'kernel', 'password', 'completion', 'version', 'help', 'ps', 'inspect', 'logs', 'start', 'stop', 'restart', 'reset', 'events', 'stats', 'boot-report', 'poweroff', 'reboot', 'exec', 'console']));
    expect(new Set(all).size).toBe(all.length);
  });

  it.each(verbs())('keel %s: --help, -h and "keel help VERB" print its usage, its options and an example, exit 0', (verb) => {
    const long = keel([verb, '--help']);
    expect(long.status, long.stderr).toBe(0);
    expect(keel([verb, '-h'])).toEqual(long);
    expect(keel(['help', verb])).toEqual(long);
    const text = long.stdout;
    expect(text).toMatch(new RegExp(`^usage: keel (\\[--vm VM\\] )?${verb}\\b`));
    expect(text).toMatch(/\noptions:\n(.*\n)*  -h, --help +show this help\n/);
    expect(text).toMatch(new RegExp(`\\nexample:\\n  .*keel (--vm \\S+ )?${verb}\\b`));
    expect(long.stderr).toBe('');
  });

  it.each(verbs())('keel %s with an unknown option: one line naming it and the verb\'s --help, exit 2', (verb) => {
    const r = keel([verb, '--no-such-option']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`keel ${verb}: unknown option --no-such-option; see "keel ${verb} --help"\n`);
    expect(r.stdout).toBe('');
  });

  it('says what was meant, for a misspelt verb or option', () => {
    expect(keel(['biuld']).stderr).toBe('keel: unknown command "biuld" (did you mean "build"?); see "keel help"\n');
    expect(keel(['logs', '--folow', 'web']).stderr).toBe('keel logs: unknown option --folow (did you mean --follow?); see "keel logs --help"\n');
    expect(keel(['run', '--net', 'bridge', 'x']).stderr).toBe('keel run: --net bridge: expected one of restricted, user, none; see "keel run --help"\n');
    expect(keel(['run', '--machine', 'i440fx', 'x']).stderr).toBe('keel run: --machine i440fx: expected one of q35, pc, virt; see "keel run --help"\n');
    // A machine of another architecture than the image's: said before anything starts.
    writeFileSync(join(dir, 'm-kernel'), 'not a kernel');
    writeFileSync(join(dir, 'm-initrd.img'), 'not an initrd');
    const arm = keel(['run', '--arch', 'arm64', '--machine', 'pc', join(dir, 'm')]);
    expect(arm).toMatchObject({ status: 2, stderr: 'keel run: --machine pc: an arm64 guest boots on virt; give --machine virt or leave it out; see "keel run --help"\n' });
    expect(keel(['run', '--machine', 'virt', join(dir, 'm')]).stderr).toMatch(/^keel run: --machine virt: an amd64 guest boots on q35 or pc; /);
    // keel run chooses the machine, and says which: --qemu-arg may not choose another behind its back.
    for (const given of [['--qemu-arg', '-M', '--qemu-arg', 'pc'], ['--qemu-arg=-machine=pc,usb=on']]) {
      const r = keel(['run', ...given, 'x']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^keel run: --qemu-arg -(M|machine=pc,usb=on): keel run chooses qemu's machine; give --machine q35\|pc instead; see "keel run --help"\n$/);
    }
    // The machines named are the image's architecture's.
    expect(keel(['run', '--arch', 'arm64', '--qemu-arg', '-M', join(dir, 'm')]).stderr).toMatch(/give --machine virt instead; /);
    expect(keel(['run', '-p', '8080', 'x']).stderr).toMatch(/^keel run: --publish 8080: expected \[HOSTIP:\]HOSTPORT:GUESTPORT/);
    const bare = keel([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toBe(keel(['help']).stdout);
  });

  it('docs/cli.md says what --help says: the summary, and each verb\'s usage and options', () => {
    const doc = readFileSync(join(REPO, 'docs/cli.md'), 'utf8');
    expect(doc).toContain(keel(['help']).stdout);
    for (const verb of verbs()) {
      const help = keel([verb, '--help']).stdout;
      expect(doc, `docs/cli.md lacks keel ${verb}'s usage`).toContain(help.split('\n')[0]!.slice('usage: '.length));
      for (const head of help.matchAll(/^ {2}(?:-\w, |\s{4})(--[a-z-]+(?: \S+)?)/gm)) expect(doc, `docs/cli.md lacks ${verb} ${head[1]}`).toContain(head[1]!);
    }
  });
});

describe('arguments', () => {
  it('reads linuxkit\'s and docker\'s spellings: -mem and -format with one dash, -o=DIR, exec -it, exec NAME -- CMD', () => {
    // keel run stops at the missing image, after parsing: a misread option would be a usage error (exit 2) first.
    for (const args of [['-mem', '256'], ['-mem=256'], ['--mem', '256']]) {
      const r = keel(['run', ...args, join(dir, 'no-such-image')]);
      expect(r.stderr, args.join(' ')).toMatch(/^keel: no image .*no-such-image: /);
      expect(r.status).toBe(1);
    }
    expect(keel(['run', '-mem', 'lots', join(dir, 'x')]).stderr).toContain('--mem lots: expected');
    expect(keel(['validate', '-json', join(dir, 'none.yml')]).stdout).toContain('"valid": false');
    const iso = keel(['run', join(dir, 'missing.iso')]);
    expect(iso.stderr).toBe(`keel: no image ${join(dir, 'missing.iso')}: there is no such file\n`);
    expect(iso.status).toBe(1);
    const backend = keel(['run', 'qemu', join(dir, 'x')]);
    expect(backend.stderr).toBe('keel run: keel run takes no backend ("qemu"): it boots with qemu; give the image alone, keel run IMAGE; see "keel run --help"\n');
    expect(backend.status).toBe(2);
    const vm = keel(['ps', '--vm', 'demo']);
    expect(vm.stderr).toBe('keel ps: --vm goes before the command: keel --vm NAME ps …; see "keel ps --help"\n');
    expect(vm.status).toBe(2);
  });

  it('reads -o=DIR as DIR, not as a folder called "=DIR"', () => {
    for (const [args, dirName] of [[['build', '-o=out8'], 'out8'], [['build', '-oout9'], 'out9'], [['build', '-o', 'out10'], 'out10']] as const) {
      expect(parseVerbArgs(findSpec('build')!, [...args, 'x.yml']).string('output'), args.join(' ')).toBe(dirName);
    }
    expect(parseVerbArgs(findSpec('logs')!, ['-n=3', 'web']).string('tail')).toBe('3');
  });

  it('refuses an empty value (an unset shell variable) where one means nothing, and keeps the last of a repeated value, as Go\'s flags do', () => {
    for (const args of [['build', '--name', '', 'x.yml'], ['build', '-o', '', 'x.yml'], ['build', '--output=', 'x.yml'], ['run', '--mem', '', 'img']]) {
      expect(() => parseVerbArgs(findSpec(args[0]!)!, args.slice(1)), args.join(' ')).toThrow(/was given an empty value; it needs .* \(an unset shell variable\?\)/);
    }
    const r = keel(['build', '--name=', 'x.yml']);
    expect(r.stderr).toBe('keel build: --name was given an empty value; it needs NAME (an unset shell variable?); see "keel build --help"\n');
    expect(r.status).toBe(2);
    expect(parseVerbArgs(findSpec('run')!, ['--data', '', 'img']).string('data')).toBe(''); // empty instance data is data
    // An option that needs another is a usage error too, checked before anything is built.
    for (const [args, said] of [
      [['--size', '2G'], '--size sizes disks; add a disk format (--format raw-bios, '],
      [['--tag', 'x:1'], '--tag names the kubevirt image; add --format kubevirt'],
    ] as const) {
      const r2 = keel(['build', ...args, join(dir, 'none.yml')]);
      expect(r2.stderr).toContain(`keel build: ${said}`);
      expect(r2.status).toBe(2);
    }
    expect(parseVerbArgs(findSpec('run')!, ['--mem', '256', '--mem', '512', 'img']).string('mem')).toBe('512');
  });

  it('takes exec -it and a "--" before the command as no-ops, with keel running', async () => {
    const rootfs = busyboxRootfs(join(dir, 'exec-rootfs'));
    const k = startKeel('services:\n' + shellEntry(rootfs, 'web', 'trap "exit 0" TERM; while :; do sleep 0.2; done'));
    try {
      await k.waitFor(/service web (running|ready)/, 30_000);
      const env = { KEEL_SOCKET: join(k.dir, 'state', 'keel.sock') };
      for (const args of [['exec', 'web', '--', 'echo', 'hi'], ['exec', '-it', 'web', 'echo', 'hi'], ['exec', '-i', '-t', 'web', '--', 'echo', 'hi']]) {
        const r = keel(args, { env });
        expect(r.stdout, args.join(' ')).toBe('hi\n');
        expect(r.status).toBe(0);
      }
      expect(keel(['exec', 'web', 'echo', '--', 'x'], { env }).stdout).toBe('-- x\n'); // a later "--" is the command's
    } finally {
      k.signal('SIGTERM');
      await k.exited;
      k.cleanup();
    }
  }, 60_000);

  it('takes each of LinuxKit\'s build formats, or names the nearest one keel builds instead of listing its own', () => {
    // LinuxKit's --format values (src/cmd/linuxkit/moby/build: its outputs and its tar streams).
    const taken = ['kernel+initrd', 'iso-bios', 'iso-efi', 'raw-bios', 'raw-efi', 'aws', 'gcp', 'qcow2-efi', 'qcow2-bios', 'vhd', 'vmdk', 'tar'];
    const nearest = ['tar-kernel-initrd', 'iso-efi-initrd', 'kernel+squashfs', 'kernel+erofs', 'kernel+iso', 'dynamic-vhd', 'rpi3', 'docker'];
    for (const f of taken) expect(parseVerbArgs(findSpec('build')!, ['-format', f, 'x.yml']).strings('format'), f).toEqual([f]);
    for (const f of nearest) {
      expect(() => parseVerbArgs(findSpec('build')!, ['-format', f, 'x.yml']), f).toThrow(new RegExp(`^--format \\S+: keel does not build LinuxKit's ${f.replace('+', '\\+')} format; the nearest it has is `));
    }
    // A word that names something of every object's is no format either.
    for (const f of ['constructor', 'toString', '__proto__']) expect(() => parseVerbArgs(findSpec('build')!, ['--format', f, 'x.yml']), f).toThrow(/: expected one of kernel\+initrd, tar, /);
    const declined = keel(['build', '--format', 'tar,iso-efi-initrd', 'x.yml']);
    expect(declined.stderr).toBe('keel build: --format iso-efi-initrd: keel does not build LinuxKit\'s iso-efi-initrd format; the nearest it has is iso-efi (an ISO that boots the kernel and initramfs with UEFI); see "keel build --help"\n');
    expect(declined.status).toBe(2);
    expect(keel(['build', '-format', 'kernel+squashfs', 'x.yml']).stderr).toMatch(/the nearest it has is kernel\+initrd \(the root file system is in the initramfs\)/);
    expect(keel(['build', '--format', 'qcow3', 'x.yml']).stderr).toMatch(/^keel build: --format qcow3: expected one of kernel\+initrd, tar, iso-bios, /);
  });

  it('takes values that start with "-" as --opt VALUE and --opt=VALUE alike (--qemu-arg -nic)', () => {
    // The image is missing, so keel run stops there: after parsing, before qemu.
    for (const args of [['--qemu-arg', '-nic', '--qemu-arg', 'none'], ['--qemu-arg=-nic', '--qemu-arg=none']]) {
      const r = keel(['run', ...args, join(dir, 'no-such-image')]);
      expect(r.stderr).toMatch(/^keel: no image .*no-such-image: /);
      expect(r.status).toBe(1);
    }
  });

  it('exits 3 when keel cannot be reached: a socket with nothing there, a VM that is not running', () => {
    const noSocket = keel(['ps', '--socket', join(dir, 'nothing.sock')]);
    expect(noSocket).toMatchObject({ status: 3, stderr: expect.stringMatching(/cannot reach keel at .*nothing\.sock: no socket there/) });
    const noVm = keel(['--vm', 'cli-no-such-vm', 'ps'], { env: { KEEL_VM_DIR: join(dir, 'vms') } });
    expect(noVm).toMatchObject({ status: 3, stderr: expect.stringMatching(/^keel: no VM named cli-no-such-vm is running; start one with "keel run --name cli-no-such-vm IMAGE"\n$/) });
    expect(keel(['--vm', 'cli-no-such-vm', 'ps', '--help']).status).toBe(0); // help needs no VM
    expect(keel(['--vm', 'cli-no-such-vm', 'build', 'x.yml']).status).toBe(2);
  });

  it('exits 3 when a VM runs but keel inside it never answers, instead of waiting forever', async () => {
    // A VM whose guest is silent, provoked without booting one: a live pid and an api.sock that
    // accepts and never answers, which is what keel run's end of the channel is when nothing inside answers.
    const { vms, vmDir } = runningVmDir('silent-vms', 'cli-silent');
    const held: Socket[] = [];
    const server: Server = createServer((c) => void held.push(c));
    await new Promise<void>((r) => server.listen(join(vmDir, 'api.sock'), r));
    try {
      const r = await keelAsync(['--vm', 'cli-silent', 'ps'], { KEEL_VM_DIR: vms });
      expect(r).toMatchObject({ status: 3, stderr: expect.stringMatching(/^keel: VM cli-silent is running, but keel inside it did not answer within 30 s/) });
    } finally {
      for (const c of held) c.destroy();
      server.close();
    }
  }, 90_000);
});

describe('a VM whose answers come late', () => {
  it('still carries the verb: each request has its own connection, never one keel closed as idle meanwhile', async () => {
    // keel's API closes a connection 5 s after its last answer (here 2 s, and node's 1 s more), and tells the
    // client so, whose agent keeps it 1 s less; the channel of a busy VM delivers that answer late (here 3.5 s).
    // The CLI's liveness check and its verb shared one kept-alive connection, so the verb went out on a
    // connection already closed, and failed with a hang-up blamed on keel's connection cap, undone.
    const { vms, vmDir } = runningVmDir('slow-vms', 'cli-slow');
    const got: string[] = [];
    const api = createHttpServer((req, res) => {
      got.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/v1/boot' ? '{}' : JSON.stringify({ service: 'web', action: 'stop', state: 'stopping' }));
    });
    api.keepAliveTimeout = 2000;
    const inner = join(vmDir, 'inner.sock');
    await new Promise<void>((r) => api.listen(inner, r));
    const sockets: Socket[] = [];
    const relay: Server = createServer({ allowHalfOpen: true }, (c) => {
      const u = connect(inner);
      sockets.push(c, u);
      for (const x of [c, u]) x.on('error', () => undefined);
      c.on('data', (d) => u.write(d));
      c.on('end', () => u.end());
      u.on('data', (d) => setTimeout(() => c.write(d), 3500));
      u.on('close', () => setTimeout(() => c.end(), 3500));
    });
    await new Promise<void>((r) => relay.listen(join(vmDir, 'api.sock'), r));
    try {
      const r = await keelAsync(['--vm', 'cli-slow', 'stop', 'web'], { KEEL_VM_DIR: vms });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(got).toContain('POST /v1/services/web/stop');
    } finally {
      for (const x of sockets) x.destroy();
      relay.close();
      api.close();
    }
  }, 60_000);
});

/** A VM registry (KEEL_VM_DIR) holding VM `name` as running: its folder with a live pid, this process's; the test adds its api.sock. */
function runningVmDir(registry: string, name: string): { vms: string; vmDir: string } {
  const vms = join(dir, registry);
  const vmDir = join(vms, name);
  mkdirSync(vmDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(vmDir, 'pid'), `${process.pid}\n`);
  return { vms, vmDir };
}

/** keel run asynchronously, so this process's own servers go on accepting meanwhile. */
function keelAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KEEL, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('without root', () => {
  it('build and run say what needs root and why, in one line, exit 4', () => {
    busyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(dir, 'r.yml'), 'services:\n  - name: s\n    image: ./rootfs\n');
    const build = keel(['build', '-o', join(dir, 'out'), join(dir, 'r.yml')], { as: 'nobody' });
    expect(build.status).toBe(4);
    expect(build.stderr).toMatch(/^keel build needs root: it unpacks image layers with their owners and device files, and asks the Docker engine \(whose socket is root's\) for images; run it as root \(sudo\)\n$/);
    const run = keel(['run', join(dir, 'out/r')], { as: 'nobody' });
    expect(run.status).toBe(4);
    expect(run.stderr).toMatch(/^keel run needs root: the VM's control sockets go in \/run\/keel\/vms, which only root may write .*\n$/);
    for (const r of [build, run]) expect(r.stderr).not.toMatch(/internal error|EACCES|start it|\n\s+at /);
  });

  it('--vm says permission denied, exit 3, rather than that no VM runs', () => {
    const vms = join(dir, 'root-vms');
    mkdirSync(join(vms, 'demo'), { recursive: true, mode: 0o700 });
    chmodSync(vms, 0o700);
    const r = keel(['--vm', 'demo', 'ps'], { as: 'nobody', env: { KEEL_VM_DIR: vms } });
    expect(r).toEqual({ status: 3, stdout: '', stderr: `keel: cannot reach VM demo: permission denied on ${vms} (root's, as the VMs' control sockets are); run as root\n` });
  });

  it('validate needs no root', () => {
    writeFileSync(join(dir, 'plain.yml'), 'hostname: plain\n');
    expect(keel(['validate', join(dir, 'plain.yml')], { as: 'nobody' })).toMatchObject({ status: 0, stdout: `${join(dir, 'plain.yml')}: valid\n` });
  });
});

describe('keel validate', () => {
  it('--json: every problem with its file, line, column, path and message', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'hostnme: x\nservices:\n  - name: a\n    image: /x\n    restart: sometimes\n');
    const r = keel(['validate', '--json', bad]);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      files: [{ file: bad, valid: false }],
      problems: [
        { file: bad, line: 1, column: 1, path: 'hostnme', message: 'unknown field; did you mean "hostname"? ("keel schema" lists the valid fields)' },
        { file: bad, line: 5, column: 14, path: 'services[0].restart', message: '"sometimes": not a restart policy (expected one of no, on-failure[:N], always, unless-stopped)' },
      ],
      warnings: [],
    });
  });

  it('reads standard input for "-", and checks several files and then their merge', () => {
    expect(keel(['validate', '-'], { input: 'hostname: from-stdin\n' })).toEqual({ status: 0, stdout: '<stdin>: valid\n', stderr: '' });
    const a = join(dir, 'a.yml');
    const b = join(dir, 'b.yml');
    writeFileSync(a, 'services:\n  - name: web\n    image: /x\n');
    writeFileSync(b, 'hostname: b\nservices:\n  - name: web\n    image: /y\n');
    expect(keel(['validate', a, join(dir, 'plain.yml')])).toMatchObject({ status: 0, stdout: `${a}: valid\n${join(dir, 'plain.yml')}: valid\n` });
    const both = keel(['validate', '--json', a, b]);
    expect(both.status).toBe(1);
    expect(JSON.parse(both.stdout).problems).toEqual([{ file: b, line: 3, column: 11, path: 'services[0].name', message: `"web" is already a service in ${a}; names must be unique across the manifests merged` }]);
    expect(keel(['validate', a, join(dir, 'missing.yml')]).stderr).toBe(`${join(dir, 'missing.yml')}: cannot read the manifest: no such file\n`);
  });
});

/** Runs bash with keel's completion loaded: `script` sets COMP_WORDS and COMP_CWORD, calls _keel and prints COMPREPLY. */
function bash(script: string, env: Record<string, string> = {}): string {
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(KEEL)} completion bash)\n${script}`], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
  expect(r.stderr).toBe('');
  return r.stdout;
}

/** What _keel offers for a command line typed up to its end ("" last: a new word), as bash splits it. */
function complete(words: string[], env: Record<string, string> = {}): string[] {
  const arr = words.map((w) => `'${w}'`).join(' ');
  return bash(`COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _keel; printf '%s\\n' "\${COMPREPLY[@]}"`, env)
    .split('\n')
    .filter(Boolean)
    .sort();
}

/** A VM folder with one live VM (this process's pid and a listening control socket) and one dead one. */
async function fakeVms(): Promise<{ root: string; close: () => void }> {
  const root = join(dir, 'vms-live');
  for (const name of ['cli-alive', 'cli-dead']) mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, 'cli-alive/pid'), String(process.pid));
  writeFileSync(join(root, 'cli-dead/pid'), '999999999');
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(join(root, 'cli-alive/api.sock'), r));
  return { root, close: () => server.close() };
}

describe('keel completion bash', () => {
  it('registers itself for keel, and completes verbs, options and their values as bash splits them', () => {
    expect(bash('complete -p keel')).toBe('complete -F _keel keel\n');
    expect(complete(['keel', 'b'])).toEqual(['boot-report', 'build']);
    expect(complete(['keel', 'build', '--f'])).toEqual(['--format']);
    expect(complete(['keel', 'build', '--format', 'iso-'])).toEqual(['iso-bios', 'iso-efi']);
    expect(complete(['keel', 'build', '--format', '=', 'qcow'])).toEqual(['qcow2-bios', 'qcow2-efi']); // --format=qcow
    expect(complete(['keel', 'run', '--net', ''])).toEqual(['none', 'restricted', 'user']);
    expect(complete(['keel', 'logs', '-'])).toEqual(['--follow', '--help', '--json', '--previous', '--socket', '--tail', '-f', '-h', '-n', '-p']);
    expect(complete(['keel', 'completion', ''])).toEqual(['bash', 'zsh']);
    expect(complete(['keel', 'help', 'ex'])).toEqual(['exec']);
    expect(complete(['keel', 'kernel', ''])).toEqual(['fetch']);
    // Arguments: manifests for build, whatever a published port looks like (8080:80 is one word to keel).
    writeFileSync(join(dir, 'comp-demo.yml'), '');
    expect(complete(['keel', 'build', '-o', 'out', 'comp-'])).toEqual(['comp-demo.yml']);
    expect(complete(['keel', 'run', '-p', '8080', ':', '80', 'comp-'])).toEqual(['comp-demo.yml']);
    expect(complete(['keel', 'ps', ''])).toEqual([]);
  });

  it('completes running VMs for --vm, and then only the verbs that talk to keel', async () => {
    const vms = await fakeVms();
    try {
      expect(complete(['keel', '--vm', ''], { KEEL_VM_DIR: vms.root })).toEqual(['cli-alive']);
      expect(complete(['keel', '--vm', '=', 'cli-'], { KEEL_VM_DIR: vms.root })).toEqual(['cli-alive']);
      expect(complete(['keel', '--vm', 'cli-alive', 're'], { KEEL_VM_DIR: vms.root })).toEqual(['reboot', 'reset', 'restart']);
      expect(complete(['keel', '--vm', 'cli-alive', 'bu'], { KEEL_VM_DIR: vms.root })).toEqual([]);
    } finally {
      vms.close();
    }
  });

  it('asks a running keel for its services where a service name comes next', async () => {
    const rootfs = busyboxRootfs(join(dir, 'svc-rootfs'));
    const k = startKeel(`services:\n${shellEntry(rootfs, 'webserver', 'trap "exit 0" TERM; while :; do sleep 1; done')}${shellEntry(rootfs, 'worker', 'trap "exit 0" TERM; while :; do sleep 1; done')}`);
    try {
      await k.waitFor(/service worker running/, 30_000);
      const socket = join(k.dir, 'state', 'keel.sock');
      expect(complete(['keel', 'logs', '-f', ''], { KEEL_SOCKET: socket })).toEqual(['webserver', 'worker']);
      expect(complete(['keel', 'restart', '--socket', socket, 'we'])).toEqual(['webserver']);
      expect(complete(['keel', 'exec', 'w'], { KEEL_SOCKET: socket })).toEqual(['webserver', 'worker']);
      expect(complete(['keel', 'exec', 'worker', 'comp-'], { KEEL_SOCKET: socket })).toEqual(['comp-demo.yml']); // the command's own words
      expect(complete(['keel', 'logs', 'worker', ''], { KEEL_SOCKET: socket })).toEqual([]);
    } finally {
      k.signal('SIGTERM');
      await k.exited;
      k.cleanup();
    }
  }, 90_000);
});

describe('keel completion zsh', () => {
  it('completes in an interactive zsh, as a person presses tab', async () => {
    const script = join(dir, 'keel.zsh');
    writeFileSync(script, keel(['completion', 'zsh']).stdout);
    const z = pty.spawn('zsh', ['-f', '-i'], { name: 'xterm', cols: 200, rows: 20, cwd: dir, env: { ...process.env, PS1: 'zsh> ', HOME: dir } as Record<string, string> });
    let text = '';
    z.onData((d) => (text += d));
    const plain = () => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    const waitFor = async (re: RegExp) => {
      const end = Date.now() + 30_000;
      while (!re.test(plain())) {
        if (Date.now() > end) throw new Error(`zsh never showed ${re}:\n${plain()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      z.write(`source ${script}; keel() { ${process.execPath} ${KEEL} "$@"; }; echo loaded\r`);
      await waitFor(/\nloaded\n/);
      z.write('keel vali\t');
      await waitFor(/keel validate $/m);
      z.write('\x15keel build --format=iso-b\t');
      await waitFor(/keel build --format=iso-bios $/m);
    } finally {
      z.kill();
    }
  });
});

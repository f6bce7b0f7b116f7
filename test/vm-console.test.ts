// The serial console under qemu, typed on like a person would: one boot of an
// image built from a local busybox root filesystem (no Docker engine), its
// serial console on keel run's stdin and stdout (pipes this test holds).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import pty from 'node-pty';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';
import { screenReader } from './helpers/screen.js';
import { bootVm, keelBuild } from './helpers/vm.js';

/** keel --vm NAME … with `input` on its stdin (a pipe: a script), without blocking the loop that reads the console. */
function hostKeel(vmName: string, args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [join(DIST, 'keel.js'), '--vm', vmName, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.stdin.end(input);
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'keel-vmcon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// busybox ash as root in /; it asks the terminal for the cursor position right after, so no end anchor.
const SHELL_PROMPT = /\/ # /;

describe('the serial console of a booted image', () => {
  it('takes Enter, ps, logs, sh with ctrl-c on a sleep, exit, exec into a service, exec from the host, and poweroff', async () => {
    requireDist();
    const rootfs = busyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(rootfs, 'etc/hostname'), 'web-inside\n');
    const services = shellEntry(rootfs, 'web', 'trap "exit 0" TERM; echo web serving; while :; do sleep 1; done');
    writeFileSync(join(dir, 'con.yml'), `kernel:\n  cmdline: "console=ttyS0"\nhostname: contest\nservices:\n${services}`);
    keelBuild(join(dir, 'con.yml'), dir);
    const started = Date.now();
    const vm = bootVm(join(dir, 'con'), join(dir, 'qmp.sock'));
    const con = screenReader(() => vm.screen());
    const step = (what: string) => process.stderr.write(`vm-console: ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    try {
      await con.waitFor(/keel: boot complete \d+ ms after kernel start/, 300_000);
      await con.waitFor(/keel: all 1 service\(s\) ready/, 120_000);
      step('services ready');

      vm.type('\r');
      await con.waitFor(/keel> /, 60_000);
      vm.type('ps\r');
      await con.waitFor(/NAME +STATE +PID +RESTARTS/, 60_000);
      await con.waitFor(/\nweb +ready +\d+ +0 /, 10_000);
      await con.waitFor(/keel> /, 60_000);
      vm.type('logs web\r');
      await con.waitFor(/stdout #1 web serving/, 60_000);
      await con.waitFor(/keel> /, 60_000);
      step('ps and logs');

      vm.type('sh\r');
      await con.waitFor(SHELL_PROMPT, 60_000);
      vm.type('echo "shell pid $$"\r');
      const pid = await con.waitFor(/shell pid \d+/, 60_000);
      expect(Number(pid.split(' ').pop())).toBeGreaterThan(1);
      // The shell prints a marker, then becomes the sleep: ctrl-c after the marker reaches the sleep.
      vm.type(`sh -c 'echo sleeping-now; exec sleep 100'\r`);
      await con.waitFor(/\nsleeping-now/, 60_000);
      const ctrlC = Date.now();
      vm.type('\x03');
      await con.waitFor(SHELL_PROMPT, 60_000);
      expect(Date.now() - ctrlC).toBeLessThan(60_000); // not the sleep's 100 s
      vm.type('echo "status $? alive $((6*7))"\r');
      await con.waitFor(/status 130 alive 42/, 60_000);
      // Events while the shell has the console: a service restarted from the shell (the image's keel CLI),
      // and a kernel error, which the kernel must not print on the console itself.
      vm.type('keel restart web --wait\r');
      await con.waitFor(/web: restart requested/, 120_000);
      await con.waitFor(SHELL_PROMPT, 60_000);
      vm.type(`echo '<3>keeltest: disk on fire' > /dev/kmsg\r`);
      await con.waitFor(SHELL_PROMPT, 60_000);
      vm.type('exit\r');
      await con.waitFor(/sh exited/, 60_000);
      // What was held back while the prompt and the shell had the console, summarized, in colour.
      await con.waitFor(/keel: while the console was in use: \d+ event line\(s\) held back: 1 service exit, \d+ kernel messages?, /, 60_000);
      await con.waitFor(/keel: {3}service web exited 0 after \d+ ms; stopped/, 10_000);
      await con.waitFor(/\x1b\[31mkeel: {3}ERROR: kmsg: keeltest: disk on fire\x1b\[0m\r?\n/, 10_000);
      await con.waitFor(/keel> /, 60_000);
      expect(vm.screen()).not.toMatch(/\] keeltest: disk on fire/); // the kernel's own "[  12.3] …" line
      step('sh, ctrl-c, exit');

      vm.type('exec web cat /etc/hostname\r'); // web as restarted from the shell
      await con.waitFor(/\nweb-inside/, 120_000);
      await con.waitFor(/exec web exited/, 60_000);
      await con.waitFor(/keel> /, 60_000);
      step('exec');

      // The same exec from the host, over keel run's control channel (keel --vm NAME): a script's
      // plain pipes, with input, then a terminal of the caller's size.
      const plain = await vm.keel('exec', 'web', 'cat', '/etc/hostname');
      expect(plain.stdout, plain.stderr).toBe('web-inside\n');
      expect(plain.status).toBe(0);
      const fed = await hostKeel(vm.name, ['exec', 'web', 'tr', 'a-z', 'A-Z'], 'from the host\n');
      expect(fed.stdout, fed.stderr).toBe('FROM THE HOST\n');
      const term = pty.spawn(process.execPath, [join(DIST, 'keel.js'), '--vm', vm.name, 'exec', 'web', 'sh'], { name: 'xterm', cols: 101, rows: 31, cwd: '/', env: process.env as Record<string, string> });
      let termText = '';
      term.onData((d) => (termText += d));
      const termExit = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
      const remote = screenReader(() => termText);
      await remote.waitFor(/# /, 120_000);
      term.write('stty size\r');
      await remote.waitFor(/31 101/, 60_000);
      term.write('exit 0\r');
      expect(await termExit).toBe(0);
      step('exec from the host');

      // An exec whose program never reads its input, fed as fast as the channel takes it: the guest holds that
      // connection at its window (per-connection credit), instead of buffering it (6-8 MB a second without), and
      // the channel's other connections go on.
      const usedMb = async () => Number((await vm.keel('exec', 'web', 'free', '-m')).stdout.split('\n')[1]!.trim().split(/\s+/)[2]);
      const before = await usedMb();
      const flood = spawn('sh', ['-c', `exec ${process.execPath} ${join(DIST, 'keel.js')} --vm ${vm.name} exec web sleep 600 < /dev/zero`], { stdio: 'ignore' });
      try {
        await new Promise((r) => setTimeout(r, 10_000));
        const ps = await vm.keel('ps');
        expect(ps.stdout).toMatch(/^web\s/m);
        const grown = (await usedMb()) - before;
        console.log(`guest memory used: +${grown} MB after 10 s of an exec fed from /dev/zero`);
        expect(grown).toBeLessThan(40); // runc exec itself is 10-15 MB; without per-connection credit it was +67 MB
      } finally {
        flood.kill('SIGKILL');
      }
      step('an exec flood held per connection');

      vm.type('poweroff\r');
      expect(await vm.exited).toBe(0);
      const s = vm.screen();
      expect(s).toMatch(/keel: poweroff now \(shutdown took \d+ ms\)/);
      expect(s).not.toContain('SIGINT'); // the ctrl-c reached the sleep, never PID 1 (for which it means reboot)
      expect(s).not.toMatch(/Kernel panic/);
      step('powered off');
    } catch (err) {
      // The whole screen says more than the part since the last step.
      throw new Error(`${(err as Error).message}\n--- the whole console ---\n${vm.screen()}`);
    } finally {
      vm.stop();
    }
  }, 900_000);
});

// keel run as a user meets it, in one boot under qemu: a guest service
// reached from the host through --publish (a real TCP connection), instance
// data given to keel run read by a container, the keel> prompt on a serial
// port that is not /dev/console, extra qemu NICs given with --qemu-arg in both
// spellings, the VM as keel --vm NAME inspect shows it, and keel --vm NAME
// exec on a terminal passing the client's TERM.
import { get } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pty from 'node-pty';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/free-port.js';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';
import { screenReader } from './helpers/screen.js';
import { bootVm, keelBuild } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-cli-vm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GET http://127.0.0.1:PORT/PATH from the host: the status and the body. */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
  });
}

/** The real CLI on a pseudo-terminal whose TERM is `term`; resolves with what it printed and its exit code. */
function onTerminal(args: string[], term: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const t = pty.spawn(process.execPath, [join(DIST, 'keel.js'), ...args], { name: term, cols: 100, rows: 30, cwd: '/', env: { ...process.env, TERM: term } as Record<string, string> });
    let text = '';
    t.onData((d) => (text += d));
    t.onExit((e) => resolve({ status: e.exitCode, text }));
  });
}

// The NICs given by hand with --qemu-arg, told apart from keel run's own by their addresses.
const EXTRA_MACS = ['52:54:00:c1:00:01', '52:54:00:c1:00:02'];

describe('keel run with --publish, --data and a prompt on every console', () => {
  it('serves a guest port on the host, hands instance data to a container, answers Enter on a serial port that is not /dev/console, and passes TERM to exec', async () => {
    requireDist();
    const rootfs = busyboxRootfs(join(dir, 'rootfs'));
    // keel run's NIC is the one whose address is not one of EXTRA_MACS; it gets qemu's user-network address.
    const net = shellEntry(
      rootfs,
      'net',
      `ip link set lo up; for i in /sys/class/net/eth*; do case " ${EXTRA_MACS.join(' ')} " in *" $(cat $i/address) "*) ;; *) dev=\${i##*/};; esac; done; ip link set $dev up && ip addr add 10.0.2.15/24 dev $dev && echo "configured $dev"`,
      'capabilities: [CAP_NET_ADMIN]',
    );
    // A web server whose documents are the instance data keel-init wrote for containers.
    const web = shellEntry(rootfs, 'web', 'trap "exit 0" TERM; httpd -f -p 8000 -h /run/config & wait', 'binds: ["/run/config:/run/config:ro"]');
    // console=tty0 last makes it /dev/console (keel-init's stdout); the serial port, where this test
    // types, is then one of the other consoles, which get a keel> prompt of their own.
    writeFileSync(join(dir, 'cli-vm.yml'), `kernel:\n  cmdline: "console=ttyS0 console=tty0"\nhostname: clivm\nonboot:\n${net}services:\n${web}`);
    keelBuild(join(dir, 'cli-vm.yml'), dir);
    const port = await freePort();
    const vm = bootVm(join(dir, 'cli-vm'), join(dir, 'qmp.sock'), [], 1024, [
      '-p',
      `${port}:8000`,
      '--data',
      '{"greeting": {"content": "hello from keel run --data"}}',
      '--qemu-arg',
      '-nic',
      `--qemu-arg=user,model=virtio-net-pci,mac=${EXTRA_MACS[0]}`,
      '--qemu-arg=-nic',
      '--qemu-arg',
      `user,model=virtio-net-pci,mac=${EXTRA_MACS[1]}`,
    ]);
    const con = screenReader(() => vm.screen());
    try {
      await con.waitFor(/keel: boot complete \d+ ms after kernel start/, 600_000);
      await con.waitFor(/keel: service web running/, 120_000);
      expect(vm.screen()).toMatch(/ net \| configured eth\d/);

      // Enter on the serial port: the prompt answers there, though /dev/console is tty0.
      vm.type('\r');
      await con.waitFor(/keel> /, 60_000);
      vm.type('ps\r');
      await con.waitFor(/\nweb +ready +\d+ +0 /, 60_000);
      await con.waitFor(/keel> /, 60_000);
      vm.type('exit\r');

      // A TCP connection from the host, through the published port, to httpd in the container,
      // which serves the file keel-init made of the data given to keel run.
      const page = await httpGet(port, '/greeting');
      expect(page.status, page.body).toBe(200);
      expect(page.body).toBe('hello from keel run --data');
      const inContainer = await vm.keel('exec', 'web', 'cat', '/run/config/userdata', '/run/config/provider');
      expect(inContainer.stdout, inContainer.stderr).toBe('{"greeting": {"content": "hello from keel run --data"}}fw_cfg opt/org.keel/userdata');

      // The hand-given NICs reached qemu, whichever way --qemu-arg was spelt.
      const macs = await vm.keel('exec', 'web', 'sh', '-c', 'cat /sys/class/net/eth*/address');
      for (const mac of EXTRA_MACS) expect(macs.stdout, macs.stderr).toContain(mac);

      // Only the devices keel run asks for: none of qemu's defaults, such as the empty CD-ROM drive a machine gets
      // (it would be a SCSI device, sr0, on the q35 machine's SATA controller, whose SCSI hosts are here).
      const scsi = await vm.keel('exec', 'web', 'ls', '/sys/bus/scsi/devices');
      expect(scsi.stdout, scsi.stderr).toMatch(/^host\d+$/m);
      expect(scsi.stdout).not.toMatch(/^\d+:\d+:\d+:\d+$/m);

      const info = await vm.keel('inspect');
      expect(info.status, info.stderr).toBe(0);
      expect(JSON.parse(info.stdout)).toMatchObject({
        name: vm.name,
        machine: 'q35',
        ports: [`127.0.0.1:${port}->8000/tcp`],
        data: { bytes: 55 },
        qemuArgs: ['-nic', `user,model=virtio-net-pci,mac=${EXTRA_MACS[0]}`, '-nic', `user,model=virtio-net-pci,mac=${EXTRA_MACS[1]}`],
      });

      // exec on a terminal: the process gets the client's TERM, whatever keel-init's own is.
      const shown = await onTerminal(['--vm', vm.name, 'exec', 'web', 'sh', '-c', 'echo "term=$TERM tty=$(tty)"'], 'screen-256color');
      expect(shown.text).toMatch(/term=screen-256color tty=\/dev\/pts\/\d+/);
      expect(shown.status).toBe(0);

      expect((await vm.keel('poweroff')).status).toBe(0);
      expect(await vm.exited).toBe(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- the whole console ---\n${vm.screen()}`);
    } finally {
      vm.stop();
    }
  }, 1_200_000);
});

/** Pids of the qemu processes of VM `name` (their command line holds the VM's directory). */
function qemuOf(name: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (basename(argv[0] ?? '').startsWith('qemu-system') && argv.some((a) => a.includes(`/vms/${name}/`))) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe('keel run and its qemu', () => {
  it('takes qemu down with it when it is killed, and powers the guest off when its output is closed', async () => {
    requireDist();
    writeFileSync(join(dir, 'tied.yml'), 'hostname: tied\n');
    keelBuild(join(dir, 'tied.yml'), dir);
    // keel run SIGKILLed (nothing of it runs to stop qemu): qemu gets its parent-death signal.
    const killed = bootVm(join(dir, 'tied'), join(dir, 'tied-qmp.sock'));
    await killed.waitFor(/qemu started/, 120_000);
    expect(qemuOf(killed.name)).toHaveLength(1);
    killed.signal('SIGKILL');
    await killed.exited;
    const end = Date.now() + 10_000;
    while (qemuOf(killed.name).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(qemuOf(killed.name)).toEqual([]);

    // Its reader gone (EPIPE), keel run presses the power button, again until the guest listens, and ends with it.
    const closed = bootVm(join(dir, 'tied'), join(dir, 'tied-qmp2.sock'));
    await closed.waitFor(/keel: keel \S+ starting as pid 1/, 300_000);
    closed.closeOutput();
    expect(await closed.exited).toBe(0);
    expect(closed.screen()).toContain('keel run: its output was closed: powering the guest off');
    expect(qemuOf(closed.name)).toEqual([]);
  }, 600_000);
});

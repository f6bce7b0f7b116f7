// The console prompt, as an operator uses it: keel-init as PID 1 of a PID
// namespace with a pseudo-terminal as its console, and a test that types.
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry } from './helpers/rootfs.js';
import { hashPassword } from '../model/password.js';
import { spawnSync } from 'node:child_process';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-console-'));
  chmodSync(dir, 0o711);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** keel-init as PID 1 of a PID namespace, with a pty as its console. */
function startOnPty(manifest: string) {
  writeFileSync(join(dir, 'keel.yml'), manifest);
  const term = pty.spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, join(DIST, 'keel-init.js'), '--mode', 'namespace', '--manifest', join(dir, 'keel.yml'), '--state-dir', join(dir, 'state')], {
    name: 'xterm',
    cols: 120,
    rows: 40,
    cwd: dir,
    env: { ...process.env } as Record<string, string>,
  });
  let screen = '';
  term.onData((d) => (screen += d));
  const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
  let mark = 0;
  /** Waits for `pattern` in what appeared since the last wait. */
  const waitFor = async (pattern: RegExp, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const seen = screen.slice(mark);
      const m = pattern.exec(seen);
      if (m) {
        mark += m.index + m[0].length;
        return m[0];
      }
      if (Date.now() > end) throw new Error(`the console never showed ${pattern}; it showed:\n${seen}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { term, exited, waitFor, screen: () => screen, type: (text: string) => term.write(text) };
}

describe('console access', () => {
  it('asks for the password from the manifest, refuses a wrong one, and opens the prompt for the right one', async () => {
    requireDist();
    const hash = hashPassword('s3cret');
    const c = startOnPty(`console:\n  access: password\n  password: "${hash}"\n`);
    try {
      await c.waitFor(/boot complete/);
      c.type('\r');
      await c.waitFor(/password: /);
      c.type('guess\r');
      await c.waitFor(/wrong password/, 10_000);
      expect(c.screen()).not.toContain('keel console:'); // the prompt's banner: it did not open
      expect(c.screen()).not.toContain('guess'); // no echo
      c.type('\r');
      await c.waitFor(/password: /);
      c.type('s3cret\r');
      await c.waitFor(/keel> /);
      c.type('poweroff\r');
      expect(await c.exited).toBe(0);
    } finally {
      c.term.kill('SIGKILL');
    }
  });

  it('gives no prompt at all when access is off', async () => {
    const c = startOnPty('console:\n  access: "off"\n');
    try {
      await c.waitFor(/boot complete/);
      c.type('\r');
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.screen()).not.toContain('keel console:');
      expect(c.screen()).not.toContain('press Enter');
      const off = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'poweroff', '--socket', join(dir, 'state', 'keel.sock')], { encoding: 'utf8' });
      expect(off.status).toBe(0);
      expect(await c.exited).toBe(0);
    } finally {
      c.term.kill('SIGKILL');
    }
  });
});

describe('the keel> prompt on a terminal console', () => {
  it('runs verbs, a shell with job control, exec into a service, and poweroff', async () => {
    requireDist();
    const rootfs = busyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(rootfs, 'etc/hostname'), 'inside-web\n');
    const c = startOnPty('services:\n' + shellEntry(rootfs, 'web', 'trap "exit 0" TERM; echo web says hi; while :; do sleep 0.2; done'));
    const { term, exited, waitFor, type } = c;
    const screen = () => c.screen();
    try {
      await waitFor(/press Enter for the keel> prompt/);
      await waitFor(/all 1 service\(s\) ready/);
      type('\r');
      await waitFor(/keel> /);
      type('ps\r');
      await waitFor(/web +ready +\d+ +0/);
      await waitFor(/keel> /);
      type('logs web\r');
      await waitFor(/stdout #1 web says hi/);
      await waitFor(/keel> /);
      type('sh\r');
      await waitFor(/# $|\$ $/);
      type('echo "pid=$$ ok"\r');
      await waitFor(/pid=\d+ ok/);
      type('sleep 30\r');
      await new Promise((r) => setTimeout(r, 500));
      type('\x03'); // ctrl-c goes to the shell's foreground job, not to PID 1
      await waitFor(/# $|\$ $/);
      type('echo back\r');
      await waitFor(/back/);
      type('exit\r');
      await waitFor(/sh exited/);
      await waitFor(/keel> /);
      type('exec web cat /etc/hostname\r');
      await waitFor(/inside-web/);
      await waitFor(/exec web exited/);
      await waitFor(/keel> /);
      type('nonsense\r');
      await waitFor(/unknown command "nonsense"/);
      type('poweroff\r');
      expect(await exited).toBe(0);
      expect(screen()).not.toContain('SIGINT: reboot'); // the ctrl-c never reached PID 1
      expect(screen()).toMatch(/poweroff now/);
    } finally {
      term.kill('SIGKILL');
    }
  }, 120_000);
});

describe('diagnosing and fixing a crash loop from the console alone', () => {
  it('shows the failed service in ps and its reason in logs; a file made from sh and a reset bring it up', async () => {
    requireDist();
    const rootfs = busyboxRootfs(join(dir, 'rootfs-app'));
    const data = join(dir, 'appdata');
    const script = 'if [ -f /data/config ]; then echo "app up with $(cat /data/config)"; trap "exit 0" TERM; while :; do sleep 0.2; done; else echo "app: /data/config is missing" >&2; exit 1; fi';
    const c = startOnPty(`services:\n${shellEntry(rootfs, 'app', script, `binds: ["${data}:/data"]\nruntime:\n  mkdir: ["${data}"]\nstartLimit: {burst: 3, interval: 1m}`)}`);
    const { term, exited, waitFor, type } = c;
    try {
      await waitFor(/ERROR: service app failed: start limit reached/, 60_000);
      type('\r');
      await waitFor(/keel> /);
      type('ps\r');
      await waitFor(/app +failed +- +2 +- +start limit reached/);
      await waitFor(/keel> /);
      type('logs app\r');
      await waitFor(/stderr #3 app: \/data\/config is missing/);
      await waitFor(/keel> /);
      // The fix: the service's volume is reachable from the console's shell.
      type('sh\r');
      await waitFor(/# $|\$ $/);
      type(`echo port=8080 > ${data}/config; echo "wrote $(cat ${data}/config)"\r`);
      await waitFor(/wrote port=8080/);
      type('exit\r');
      await waitFor(/sh exited/);
      await waitFor(/keel> /);
      type('reset app\r');
      await waitFor(/app: reset requested/);
      await waitFor(/keel> /);
      type('logs -f app\r');
      await waitFor(/stdout #4 app up with port=8080/);
      type('\x03'); // stops following, not keel
      await waitFor(/keel> /);
      // Its first line can come before runc run has returned, while ps still says starting: ask again until it is up.
      for (let tries = 0; ; tries++) {
        type('ps\r');
        const table = await waitFor(/NAME[^]*?keel> /);
        if (/app +(running|ready) +\d+ +0 /.test(table)) break;
        expect(tries, table).toBeLessThan(40);
        await new Promise((r) => setTimeout(r, 250));
      }
      type('poweroff\r');
      expect(await exited).toBe(0);
      expect(c.screen()).not.toContain('SIGINT: reboot');
      expect(c.screen()).not.toContain('cannot reach keel'); // ctrl-c stopped the follow quietly
    } finally {
      term.kill('SIGKILL');
    }
  }, 120_000);
});

// README's demo, as a new user follows it: the demo booted with the keel run
// line of `make run` (from the Makefile), then every command of README's
// "while the demo runs" block, run as written from the checkout. Two things
// differ, so that this test never meets another run on the same machine: the
// VM's name (cli-demo-PID for "demo", set with --name) and the host port
// (a free one for 8080).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/free-port.js';
import { requireDist } from './helpers/keel-ns.js';
import { screenReader } from './helpers/screen.js';
import { keelBuild } from './helpers/vm.js';

const REPO = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'keel-cli-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The keel run line of the Makefile's run target. */
function makeRunLine(): string {
  const makefile = readFileSync(join(REPO, 'Makefile'), 'utf8');
  const recipe = /^run:.*\n((?:\t.*\n)+)/m.exec(makefile);
  const line = recipe?.[1]!.split('\n').map((l) => l.trim()).find((l) => l.startsWith('node dist/keel.js run '));
  if (!line) throw new Error('the Makefile has no "node dist/keel.js run" line in its run target');
  return line;
}

/** The commands of README's block that shows curl beside keel --vm demo ps. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('curl http://127.0.0.1:8080/'));
  if (!block) throw new Error('README.md has no sh block with curl http://127.0.0.1:8080/');
  return block.split('\n').filter((l) => l.trim() !== '');
}

describe("README's demo", () => {
  it('boots as make run boots it, and answers every command README shows, as written', async () => {
    requireDist();
    const rootfs = spawnSync(join(REPO, 'examples/make-rootfs.sh'), [join(REPO, 'out/busybox-rootfs'), 'keel-demo/busybox:1'], { encoding: 'utf8' });
    expect(rootfs.status, rootfs.stderr).toBe(0);
    keelBuild(join(REPO, 'examples/demo.yml'), dir);
    const port = await freePort();
    const name = `cli-demo-${process.pid}`;
    const ours = (line: string) => line.replaceAll('--vm demo', `--vm ${name}`).replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`);

    const run = makeRunLine();
    expect(run).toMatch(/ -p 8080:80 .* out\/demo$/); // what README's curl relies on
    const args = run.replace(/^node dist\/keel\.js run /, '').replace(/(^| )-p 8080:80 /, `$1-p ${port}:80 `).replace(/ out\/demo$/, ` ${join(dir, 'demo')}`).split(' ');
    const vm = spawn(process.execPath, [join(REPO, 'dist/keel.js'), 'run', '--name', name, '--no-reboot', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    vm.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    vm.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((r) => vm.on('exit', (code) => r(code)));
    const con = screenReader(() => screen);
    try {
      await con.waitFor(/keel: service web ready/, 600_000);
      const said: Record<string, string> = {};
      for (const line of readmeCommands()) {
        const r = spawnSync('sh', ['-c', ours(line)], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
        expect(r.status, `${line}\n${r.stdout}${r.stderr}`).toBe(0);
        said[line] = r.stdout;
      }
      expect(said['curl http://127.0.0.1:8080/'], said['curl http://127.0.0.1:8080/']).toMatch(/^keel demo: the web service on \S+\n  up \d+ s in this container, request \d+ since it started\n  instance data from keel run: hello from the host \(examples\/demo-data\.json\)\n$/);
      expect(said['node dist/keel.js --vm demo ps'], said['node dist/keel.js --vm demo ps']).toMatch(/\nweb +ready \(healthy\) +\d+ +0 /);
      expect(said['node dist/keel.js --vm demo exec web cat /etc/hostname']).toBe('keel-demo\n');

      const info = spawnSync(process.execPath, ['dist/keel.js', '--vm', name, 'inspect'], { cwd: REPO, encoding: 'utf8' });
      expect(JSON.parse(info.stdout)).toMatchObject({ ports: [`127.0.0.1:${port}->80/tcp`], data: { via: expect.any(String) } });
      expect(spawnSync(process.execPath, ['dist/keel.js', '--vm', name, 'poweroff'], { cwd: REPO, encoding: 'utf8' }).status).toBe(0);
      expect(await exited).toBe(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- the whole console ---\n${screen}`);
    } finally {
      vm.kill('SIGTERM');
      setTimeout(() => vm.kill('SIGTERM'), 200).unref();
    }
  }, 1_200_000);
});

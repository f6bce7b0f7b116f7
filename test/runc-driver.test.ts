// The runc driver on its own, with the real reaper of this test worker (a
// child subreaper): every verb of the interface against real containers.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackChildProcesses } from '../init/core/owned-children.js';
import { Reaper } from '../init/core/reaper.js';
import { runtimeHost } from '../init/core/runtime-host.js';
import { sys } from '../init/core/sys.js';
import { parseManifest } from '../model/index.js';
import { buildOciSpec, specJson } from '../runtime/oci-spec.js';
import { descendants } from '../runtime/process-tree.js';
import { Runc } from '../runtime/runc.js';
import { pidOfCommand } from './helpers/command-line.js';
import { removeTestCgroups } from './helpers/keel-ns.js';
import { busyboxRootfs } from './helpers/rootfs.js';

let dir: string;
let reaper: Reaper;
let runc: Runc;

function bundle(name: string, script: string): string {
  const b = join(dir, name);
  const entry = parseManifest(`onboot:\n  - name: ${name}\n    image: /x\n    readonly: true\n    command: [/bin/sh, -c, ${JSON.stringify(script)}]\n`, 'k.yml').onboot[0]!;
  // A cgroup parent of this run's own: a container left by a failed run is not in the next run's cgroups.
  const { spec } = buildOciSpec({ entry, image: {}, rootfs: join(dir, 'rootfs'), idOf: () => undefined, cgroupParent: `/keel-test/${basename(dir)}` });
  busyboxRootfs(join(dir, 'rootfs'));
  mkdirSync(b, { recursive: true });
  writeFileSync(join(b, 'config.json'), specJson(spec));
  return b;
}

/** runc init processes below `pid` (named runc:[n:STAGE] once nsexec runs, "runc init" before). */
function runcInitsOf(pid: number): number[] {
  return descendants(pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('runc:[') || readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('runc\0init');
    } catch {
      return false;
    }
  });
}

function collect(): { attach: (o: Readable, e: Readable) => void; text: () => string } {
  let text = '';
  return { attach: (o, e) => [o, e].forEach((s) => s.on('data', (d: Buffer) => (text += d.toString()))), text: () => text };
}

beforeAll(() => {
  trackChildProcesses();
  reaper = new Reaper(sys(), { sweepMs: 200 });
  reaper.start();
  dir = mkdtempSync(join(tmpdir(), 'keel-runc-'));
  runc = new Runc(join(dir, 'runc'), runtimeHost(sys(), reaper));
});
afterAll(() => {
  reaper.stop();
  rmSync(dir, { recursive: true, force: true });
  removeTestCgroups(basename(dir));
});

describe('runc driver', () => {
  it('creates, reports state, execs, starts, kills with a signal, and deletes', async () => {
    const b = bundle('life', 'echo up; trap "echo got TERM; exit 7" TERM; while :; do sleep 0.05; done');
    const out = collect();
    const c = await runc.create('life', b, out.attach);
    expect((await runc.state('life'))?.status).toBe('created');
    await runc.start('life');
    expect((await runc.state('life'))?.status).toBe('running');
    expect(await runc.list()).toEqual(['life']);
    const r = await runc.exec('life', ['/bin/sh', '-c', 'echo from exec; exit 4']);
    expect(r).toMatchObject({ code: 4, stdout: 'from exec\n', timedOut: false });
    await runc.kill('life', 'SIGTERM');
    expect(await c.exited).toEqual({ pid: c.pid, code: 7, signal: null });
    expect((await runc.state('life'))?.status).toBe('stopped');
    await runc.delete('life');
    expect(await runc.state('life')).toBeUndefined();
    expect(out.text()).toBe('up\ngot TERM\n');
  });

  it('kills a program it runs with exec when that outlasts its time', async () => {
    const b = bundle('probe', 'sleep 1000');
    const c = await runc.create('probe', b, () => {}, true);
    // 5 s: long enough for runc to have started the program on a loaded machine.
    const r = await runc.exec('probe', ['/bin/sleep', '4343001'], 5000);
    // runc ends either by keel's SIGKILL or by itself once its program is killed (137): a failure either way.
    expect(r.timedOut).toBe(true);
    expect(r.code).not.toBe(0);
    // runc cannot pass a SIGKILL of its own on: the program is killed by its pid first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pidOfCommand('/bin/sleep', '4343001')).toBeUndefined();
    await runc.kill('probe', 'SIGKILL', true);
    await c.exited;
    await runc.delete('probe', true);
  });

  it('leaves nothing in the container when exec is killed at any point of starting its program', async () => {
    const b = bundle('race', 'sleep 1000');
    const c = await runc.create('race', b, () => {}, true);
    try {
      // Timeouts from 1 ms to past a whole exec: each lands in a different stage of runc starting the program
      // (runc alone, runc:[1:CHILD], runc:[2:INIT] setting up, the program itself).
      for (let ms = 1; ms <= 120; ms += 7) {
        const r = await runc.exec('race', ['/bin/sleep', '4343002'], ms);
        expect(r.timedOut).toBe(true);
      }
      // What runc sees in the container's cgroup: its init alone, no init stage or program left over.
      const ps = execFileSync('runc', ['--root', runc.root, 'ps', '--format', 'json', 'race'], { encoding: 'utf8' });
      expect(JSON.parse(ps)).toEqual([c.pid]);
      // And none left on this side of the container's cgroup (a stage killed before runc moved it there).
      expect(pidOfCommand('/bin/sleep', '4343002')).toBeUndefined();
      expect(runcInitsOf(process.pid)).toEqual([]);
    } finally {
      await runc.kill('race', 'SIGKILL', true);
      await c.exited;
      await runc.delete('race', true);
    }
  });

  it('cleans stale state of the same id before creating, and killing a stopped container is not an error', async () => {
    const b = bundle('stale', 'sleep 100');
    const first = await runc.create('stale', b, () => {});
    // keel "restarts" without deleting: the next create of the same id must still work.
    const second = await runc.create('stale', b, () => {}, true);
    expect(second.pid).not.toBe(first.pid);
    expect((await first.exited).signal).toBe('SIGKILL');
    await runc.kill('stale', 'SIGKILL', true);
    await second.exited;
    await runc.kill('stale', 'SIGKILL');
    await runc.delete('stale', true);
    expect(await runc.list()).toEqual([]);
  });

  it('reports runc errors from its log, and leaves no state after a failed create', async () => {
    const b = bundle('broken', 'true');
    const config = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as { process: { args: string[] } };
    config.process.args = ['/does/not/exist'];
    writeFileSync(join(b, 'config.json'), JSON.stringify(config));
    await expect(runc.create('broken', b, () => {}, true)).rejects.toThrow(/runc run broken: .*\/does\/not\/exist.*no such file/);
    expect(await runc.list()).toEqual([]);
  });
});

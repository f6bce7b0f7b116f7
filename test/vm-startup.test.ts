// keel-init's V8 code cache (pkg/image/init-loader.ts): the image's own /init,
// node and files run here on the host, with the cache keel build made and
// with a stale one; then a real boot, where keel-init says V8 took the cache.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initrdEntries } from './helpers/initrd.js';
import { requireDist } from './helpers/keel-ns.js';
import { bootVm, keelBuild } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LIB = '/usr/lib/keel';

// Runs the image's /init with the image's node, as `keel-init --version`, from
// a copy of the image's keel files; prints what the loader recorded.
const DRIVER = `process.argv = [process.argv[0], '/init', '--version'];
process.on('exit', () => console.log('state ' + globalThis.__keelCodeCache?.state));
require(process.env.INIT);
`;

/** The text before the first match of `re` and from it on. */
function splitAt(text: string, re: RegExp): [string, string] {
  const at = text.search(re);
  expect(at).toBeGreaterThan(-1);
  return [text.slice(0, at), text.slice(at)];
}

/** The image's /init, node and keel files, copied out so they run here. */
function unpackKeel(initrd: string, to: string): { node: string; init: string } {
  const wanted = (p: string) => p === 'init' || p === 'usr/bin/node' || p.startsWith(`${LIB.slice(1)}/keel`);
  mkdirSync(join(to, 'lib'), { recursive: true });
  for (const e of initrdEntries(initrd).filter((x) => wanted(x.path))) {
    const at = e.path === 'init' || e.path === 'usr/bin/node' ? join(to, e.path.replace('usr/bin/', '')) : join(to, 'lib', e.path.slice(LIB.length));
    writeFileSync(at, e.path === 'init' ? e.data.toString().replace(`'${LIB}'`, JSON.stringify(join(to, 'lib'))) : e.data);
    chmodSync(at, 0o755);
  }
  writeFileSync(join(to, 'driver.cjs'), DRIVER);
  return { node: join(to, 'node'), init: join(to, 'init') };
}

function runInit(files: { node: string; init: string }): { status: number | null; out: string } {
  const r = spawnSync(files.node, [join(dirname(files.init), 'driver.cjs')], { encoding: 'utf8', env: { PATH: process.env.PATH, INIT: files.init } });
  return { status: r.status, out: r.stdout + r.stderr };
}

let image = '';
beforeAll(() => {
  requireDist();
  // NODE_DEBUG_NATIVE (the kernel hands it to /init as an environment variable): node says, for each of its own modules, whether V8 took its code cache.
  writeFileSync(join(dir, 'startup-cache.yml'), 'kernel:\n  cmdline: "console=ttyS0 quiet NODE_DEBUG_NATIVE=CODE_CACHE"\nhostname: startup\n');
  expect(keelBuild(join(dir, 'startup-cache.yml'), dir)).toMatch(/built startup-cache/);
  image = join(dir, 'startup-cache');
});

describe("keel-init's code cache", () => {
  it('is in the image, made by the image node, and a stale one is rejected with keel-init still running', () => {
    const files = unpackKeel(`${image}-initrd.img`, join(dir, 'host'));
    const fresh = runInit(files);
    expect(fresh.out).toMatch(/^keel-init \d+\.\d+\.\d+$/m);
    expect(fresh.out).toContain('state accepted');
    expect(fresh.status).toBe(0);
    // A cache made for other source (an older bundle): V8 refuses it and the bundle compiles from source.
    writeFileSync(join(dir, 'host/lib/keel-init.cjs.cache'), new Script('"an older bundle"').createCachedData());
    const stale = runInit(files);
    expect(stale.out).toMatch(/^keel-init \d+\.\d+\.\d+$/m);
    expect(stale.out).toContain('state rejected');
    rmSync(join(dir, 'host/lib/keel-init.cjs.cache'));
    expect(runInit(files).out).toContain('state absent');
  }, 120_000);

  it('is taken by V8 when the image boots, keel-init says so on the console, says its first line before node loads http, net or tty, and boots without crypto, worker_threads or readline', async () => {
    const vm = bootVm(image, join(dir, 'qmp.sock'));
    try {
      await vm.waitFor(/keel: boot complete \d+ ms after kernel start/, 240_000);
      expect(vm.screen()).toMatch(/keel: code cache accepted: keel-init compiled in \d+ ms \(node start to \/init \d+ ms, to keel-init's first line \d+ ms\)/);
      expect(vm.screen()).not.toMatch(/cannot start keel-init|code cache rejected/);
      // keel-init's V8 flags come after every module is loaded: node's modules compile from node's own caches, none from source.
      const boot = vm.screen().slice(0, vm.screen().search(/keel: boot complete/));
      expect(boot).toMatch(/Code cache of \S+ \(\w+\) is accepted/);
      expect(boot.match(/Code cache of \S+ \(\w+\) is rejected/g) ?? []).toEqual([]);
      // Node says which of its modules it compiles as they load: before keel-init's first line, none of those
      // under the control API, the runtime or the console's stream (init/boot/boot.ts loads them after it).
      const [beforeFirstLine, afterIt] = splitAt(boot, /keel: keel \S+ starting as pid 1/);
      const heavy = ['http', 'child_process', 'net', 'tty', 'stream'];
      expect(heavy.filter((m) => beforeFirstLine.includes(`Code cache of ${m} `))).toEqual([]);
      expect(heavy.filter((m) => !afterIt.includes(`Code cache of ${m} `))).toEqual([]);
      // And what boot never needs: crypto (OpenSSL's start, 120-140 ms under TCG), worker_threads, and readline until a
      // prompt opens (node's tty and fs modules load three of readline's internal modules themselves).
      expect(boot.match(/Code cache of (crypto|internal\/crypto\/\S+|worker_threads|internal\/worker|readline|readline\/promises|internal\/readline\/(emitKeypressEvents|promises)) /g) ?? []).toEqual([]);
    } finally {
      vm.stop();
    }
  }, 360_000);
});

describe('a keel-init whose rest cannot load', () => {
  it('stays up as PID 1 (no kernel panic), says why, and powers off on the power button', async () => {
    // A broken bundle is a fault nothing outside keel can cause: the load stage is made to throw.
    // The kernel hands KEEL_INJECT_FAULT=load to /init as an environment variable.
    writeFileSync(join(dir, 'broken-load.yml'), 'kernel:\n  cmdline: "console=ttyS0 quiet KEEL_INJECT_FAULT=load"\nhostname: broken\n');
    expect(keelBuild(join(dir, 'broken-load.yml'), dir)).toMatch(/built broken-load/);
    const vm = bootVm(join(dir, 'broken-load'), join(dir, 'qmp-broken.sock'));
    try {
      await vm.waitFor(/EMERGENCY: boot stopped: boot stage load failed: injected: the rest of keel-init cannot load/, 240_000);
      await new Promise((r) => setTimeout(r, 3000)); // long enough for node's event loop to have drained, were nothing holding it
      expect(vm.screen()).not.toMatch(/Kernel panic|Attempted to kill init/);
      const qmp = await vm.qmp();
      await qmp.command('system_powerdown');
      qmp.close();
      const timer = new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000).unref());
      expect(await Promise.race([vm.exited, timer])).toBe(0);
      expect(vm.screen()).toContain('keel: power button: poweroff now (nothing was started)');
    } finally {
      vm.stop();
    }
  }, 360_000);
});

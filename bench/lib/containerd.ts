// LinuxKit's model as an anchor: a containerd of our own (root, state and
// socket under a temp dir, so dockerd's containerd is not disturbed) with one
// containerd-shim-runc-v2 per container, driven by Debian's `ctr`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, track } from './cleanup.js';
import { allPids, argv, isZombieOrGone } from './proc.js';

const NAMESPACE = 'keelbench';

export interface Containerd {
  pid: number;
  address: string;
  /** `ctr run -d` of `sleep 100000` from a read-only `rootfs`, host network, output to /dev/null. */
  run(id: string, rootfs: string): Promise<void>;
  /** containerd plus every shim it started. */
  pids(): number[];
}

export function containerdInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v containerd && command -v ctr && command -v containerd-shim-runc-v2'], { stdio: 'ignore' }).status === 0;
}

export async function startContainerd(dir: string): Promise<Containerd> {
  mkdirSync(dir, { recursive: true });
  const address = join(dir, 'containerd.sock');
  writeFileSync(
    join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[debug]',
      `  address = "${join(dir, 'debug.sock')}"`,
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );
  const d = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: 'ignore' });
  const pid = d.pid!;
  const ids = new Set<string>();
  const ctr = (...args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = spawn('ctr', ['-a', address, '-n', NAMESPACE, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (b: Buffer) => (err += b.toString()));
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ctr ${args.join(' ')}: ${err.trim()}`))));
    });
  track(async () => {
    // Tasks first (their shims outlive containerd otherwise), then containerd, then the namespace's parent cgroups.
    const list = [...ids];
    for (let i = 0; i < list.length; i += 25) {
      await ctr('tasks', 'delete', '-f', ...list.slice(i, i + 25)).catch((e: Error) => console.error(e.message));
      await ctr('containers', 'delete', ...list.slice(i, i + 25)).catch((e: Error) => console.error(e.message));
    }
    d.kill('SIGTERM');
    for (let i = 0; i < 100 && !isZombieOrGone(pid); i++) await sleep(100);
    for (const c of readdirSync('/sys/fs/cgroup')) {
      const p = join('/sys/fs/cgroup', c, NAMESPACE);
      if (existsSync(p)) {
        try {
          rmdirSync(p);
        } catch {
          /* busy */
        }
      }
    }
  });
  const end = Date.now() + 30_000;
  while (!existsSync(address)) {
    if (Date.now() > end || isZombieOrGone(pid)) throw new Error('containerd did not come up');
    await sleep(50);
  }
  return {
    pid,
    address,
    run: async (id: string, rootfs: string) => {
      ids.add(id);
      await ctr('run', '-d', '--null-io', '--net-host', '--read-only', '--rootfs', rootfs, id, '/bin/sleep', '100000');
    },
    pids: () => [pid, ...shimsOf(address)],
  };
}

/** containerd-shim-runc-v2 processes serving the containerd at `address`. */
export function shimsOf(address: string, idFilter?: (id: string) => boolean): number[] {
  return allPids().filter((p) => {
    const a = argv(p);
    if (!/containerd-shim-runc-v2$/.test(a[0] ?? '')) return false;
    const at = a.indexOf('-address');
    if (at < 0 || a[at + 1] !== address) return false;
    if (!idFilter) return true;
    const idAt = a.indexOf('-id');
    return idAt >= 0 && idFilter(a[idAt + 1]!);
  });
}

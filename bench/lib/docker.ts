// The Docker engine anchor: uses the dockerd that is running, or starts one
// (and stops only a dockerd it started itself). The image is the same busybox
// root filesystem keel runs, imported without a network.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, track } from './cleanup.js';
import { isZombieOrGone, readOr } from './proc.js';

export const IMAGE = 'keel-bench/busybox:latest';
const SOCKET = '/var/run/docker.sock';

export function docker(...args: string[]): string {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim() || r.error?.message}`);
  return r.stdout.trim();
}

/** As docker(), but spawned, so that several can run at once. */
export function dockerAsync(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker ${args.join(' ')}: ${err.trim()}`))));
  });
}

const engineUp = (): boolean => spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

/** Makes sure a Docker engine answers; returns why not if none can be had. */
export async function ensureDockerd(logDir: string): Promise<string | undefined> {
  if (spawnSync('sh', ['-c', 'command -v docker && command -v dockerd'], { stdio: 'ignore' }).status !== 0) return 'docker/dockerd are not installed (apt-get install docker.io)';
  if (engineUp()) return undefined;
  console.log('no Docker engine answers: starting dockerd');
  const log = openSync(join(logDir, 'dockerd.log'), 'a');
  const d = spawn('dockerd', [], { stdio: ['ignore', log, log], detached: true });
  const pid = d.pid!;
  d.unref();
  track(async () => {
    // Only the dockerd started here; it stops its containerd and containers' shims stay, which is why the benchmarks remove their containers first.
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 300 && !isZombieOrGone(pid); i++) await sleep(100);
  });
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (existsSync(SOCKET) && engineUp()) return undefined;
    if (isZombieOrGone(pid)) break;
    await sleep(250);
  }
  return `dockerd did not come up; its log:\n${readOr(join(logDir, 'dockerd.log')).split('\n').slice(-15).join('\n')}`;
}

/** Imports `rootfs` as IMAGE (tar | docker import); removed again at cleanup. */
export function importImage(rootfs: string): void {
  const r = spawnSync('sh', ['-c', `tar -C '${rootfs}' -c . | docker import - ${IMAGE}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker import failed: ${r.stderr}`);
  track(() => void spawnSync('docker', ['rmi', '-f', IMAGE], { stdio: 'ignore' }));
}

/** Removes containers by name or id, in one call (docker rm -f of 100 takes a while). */
export function removeContainers(ids: readonly string[]): void {
  if (ids.length === 0) return;
  spawnSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore', timeout: 300_000 });
}

/** The host pid of a container's init. */
export function containerPid(id: string): number {
  return Number(docker('inspect', '-f', '{{.State.Pid}}', id));
}

// The process-supervisor anchors: runit's runsv or s6's s6-supervise running
// `exec runc run` of the very config.json keel generated, each in its own
// cgroup, in the host's PID namespace.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, track } from './cleanup.js';
import { allPids, isSleeper, readOr } from './proc.js';

export type Supervisor = 'runsv' | 's6-supervise';

export interface SupervisedRunc {
  pid: number;
  cgroupsPath: string;
  stop(): Promise<void>;
}

function cgroupDirs(path: string): string[] {
  const base = '/sys/fs/cgroup';
  const out: string[] = [];
  for (const c of readdirSync(base)) {
    const p = join(base, c, path);
    if (existsSync(p)) out.push(p);
  }
  if (existsSync(join(base, 'cgroup.controllers')) && existsSync(join(base, path))) out.push(join(base, path));
  return out;
}

export function installed(cmd: Supervisor): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export async function startSupervised(cmd: Supervisor, dir: string, keelConfig: string): Promise<SupervisedRunc> {
  const id = `keel-bench-${cmd}`;
  const bundle = join(dir, 'bundle');
  const root = join(dir, 'runc');
  const sv = join(dir, 'sv');
  for (const d of [bundle, root, sv]) mkdirSync(d, { recursive: true });
  const config = JSON.parse(readFileSync(keelConfig, 'utf8')) as { linux: { cgroupsPath?: string } };
  const cgroupsPath = `/keel-bench/${id}`;
  config.linux.cgroupsPath = cgroupsPath;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(sv, 'run'), `#!/bin/sh\nexec runc --root ${root} run --bundle ${bundle} ${id}\n`);
  chmodSync(join(sv, 'run'), 0o755);
  const child: ChildProcess = spawn(cmd, [sv], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = track(async (): Promise<void> => {
    // The supervisor first, so nothing restarts; then the container init, so `runc run` tears down and exits.
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(5000)]);
    for (const p of allPids().filter((p) => isSleeper(p) && readOr(`/proc/${p}/cgroup`).includes(`:${cgroupsPath}\n`))) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const end = Date.now() + 10_000;
    while (Date.now() < end && spawnSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout.trim() !== '') await sleep(50);
    spawnSync('runc', ['--root', root, 'delete', '-f', id], { stdio: 'ignore' });
    for (const leaf of [...cgroupDirs(cgroupsPath), ...cgroupDirs('/keel-bench')]) {
      try {
        rmdirSync(leaf);
      } catch {
        /* busy or gone */
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  return { pid: child.pid!, cgroupsPath, stop };
}

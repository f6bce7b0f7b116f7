// Boots an image with the real `keel run` (qemu; TCG on these machines) and
// reads its serial console until a line appears. keel and the floor go
// through the very same qemu command line.
import { spawn, spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import type { BootReport } from '../../api/wire.js';
import { DIST } from '../../test/helpers/keel-ns.js';
import { sleep, track } from './cleanup.js';
import { childrenOf, isZombieOrGone } from './proc.js';

export interface Boot {
  match: RegExpExecArray;
  screen: string;
  wallMs: number;
  /** Each console line with the host time (ms since the boot began) it arrived at. */
  lines: Array<{ atMs: number; text: string }>;
  /** keel's boot report, asked over the control channel once `done` showed (when asked for). */
  report?: BootReport;
}

let vms = 0;

/** `keel --vm NAME boot-report`, parsed. */
function bootReport(name: string): BootReport {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), '--vm', name, 'boot-report'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`keel --vm ${name} boot-report failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as BootReport;
}

/** Boots `image` (NAME of NAME-kernel etc.) with `cpus` vCPUs (1 by default), waits for `done` on the console (and with `report`, asks keel for its boot report), then stops the VM. */
export async function bootUntil(image: string, done: RegExp, timeoutMs: number, opts: { memMb?: number; cpus?: number; report?: boolean } = {}): Promise<Boot> {
  const t0 = Date.now();
  const name = `bench-${basename(image)}-${process.pid}-${++vms}`;
  const vm = spawn(process.execPath, [join(DIST, 'keel.js'), 'run', '--name', name, '--mem', String(opts.memMb ?? 1024), '--cpus', String(opts.cpus ?? 1), '--no-reboot', image], { stdio: ['ignore', 'pipe', 'pipe'] });
  let screen = '';
  const lines: Boot['lines'] = [];
  let partial = '';
  const take = (d: Buffer): void => {
    const text = d.toString();
    screen += text;
    const parts = (partial + text).split(/\r?\n/);
    partial = parts.pop()!;
    for (const t of parts) lines.push({ atMs: Date.now() - t0, text: t });
  };
  vm.stdout.on('data', take);
  vm.stderr.on('data', take);
  let exited = false;
  const exit = new Promise<void>((r) => vm.on('exit', () => ((exited = true), r())));
  const stop = track(async () => {
    // keel run passes SIGTERM on to qemu; qemu is killed by pid if it lingers.
    const qemu = childrenOf(vm.pid!);
    if (!exited) vm.kill('SIGTERM');
    await Promise.race([exit, sleep(10_000)]);
    for (const p of qemu) if (!isZombieOrGone(p)) process.kill(p, 'SIGKILL');
    if (!exited) vm.kill('SIGKILL');
  });
  try {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = done.exec(screen);
      if (m) {
        const wallMs = Date.now() - t0;
        return { match: m, screen, wallMs, lines, ...(opts.report ? { report: bootReport(name) } : {}) };
      }
      if (exited) throw new Error(`the VM ended before ${done}:\n${screen.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`the console never showed ${done} within ${timeoutMs} ms:\n${screen.slice(-3000)}`);
      await sleep(100);
    }
  } finally {
    await stop();
  }
}

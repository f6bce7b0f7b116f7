// Boots an image with the real `keel run` (qemu; TCG on these machines) and
// reads its serial console until a line appears. keel and the floor go
// through the very same qemu command line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DIST } from '../../test/helpers/keel-ns.js';
import { sleep, track } from './cleanup.js';
import { childrenOf, isZombieOrGone } from './proc.js';

export interface Boot {
  match: RegExpExecArray;
  screen: string;
  wallMs: number;
  /** Each console line with the host time (ms since the boot began) it arrived at. */
  lines: Array<{ atMs: number; text: string }>;
}

/** Boots `image` (NAME of NAME-kernel etc.), waits for `done` on the console, then stops the VM. */
export async function bootUntil(image: string, done: RegExp, timeoutMs: number, memMb = 1024): Promise<Boot> {
  const t0 = Date.now();
  const vm = spawn(process.execPath, [join(DIST, 'keel.js'), 'run', '--mem', String(memMb), '--no-reboot', image], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (m) return { match: m, screen, wallMs: Date.now() - t0, lines };
      if (exited) throw new Error(`the VM ended before ${done}:\n${screen.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`the console never showed ${done} within ${timeoutMs} ms:\n${screen.slice(-3000)}`);
      await sleep(100);
    }
  } finally {
    await stop();
  }
}

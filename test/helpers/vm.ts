// Boots a built image with the real `keel run` (qemu, TCG here), reads the
// serial console, and drives the machine through QMP.
import { spawn, spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { DIST } from './keel-ns.js';
import { Qmp } from './qmp.js';

export interface Vm {
  /** The name keel run registered it under, for `keel --vm NAME`. */
  name: string;
  /** Runs `keel --vm NAME ARGS…` on the host without blocking the event loop that reads the console. */
  keel(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }>;
  screen(): string;
  waitFor(pattern: RegExp, ms: number): Promise<void>;
  qmp(): Promise<Qmp>;
  /** Sends keel run a signal, as ctrl-c or kill would. */
  signal(sig: NodeJS.Signals): void;
  /** Types on the serial console. */
  type(text: string): void;
  /** Stops reading keel run's console output and closes it, as `keel run … | head` does once head has its lines. */
  closeOutput(): void;
  exited: Promise<number | null>;
  stop(): void;
}

/** `args`: more options for keel build (--arch arm64). */
export function keelBuild(manifest: string, outDir: string, args: string[] = []): string {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', outDir, ...args, manifest], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`keel build ${manifest} failed:\n${r.stderr}`);
  return r.stdout;
}

let vmCount = 0;

export function bootVm(image: string, qmpPath: string, qemuArgs: string[] = [], mem = 1024, runArgs: string[] = []): Vm {
  const extra = [...qemuArgs.map((a) => `--qemu-arg=${a}`), ...runArgs];
  // A name of its own, so test files booting the same image at once do not collide.
  const name = `${basename(image)}-${process.pid}-${++vmCount}`;
  const vm = spawn(process.execPath, [join(DIST, 'keel.js'), 'run', '--name', name, '--mem', String(mem), '--no-reboot', '--qmp', qmpPath, ...extra, image], { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  vm.stdout.on('data', (d: Buffer) => (screen += d.toString()));
  vm.stderr.on('data', (d: Buffer) => (screen += d.toString()));
  const exited = new Promise<number | null>((r) => vm.on('exit', (code) => r(code)));
  return {
    name,
    keel: (...args) =>
      new Promise((resolveRun) => {
        const c = spawn(process.execPath, [join(DIST, 'keel.js'), '--vm', name, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (status) => resolveRun({ status, stdout, stderr }));
      }),
    screen: () => screen,
    async waitFor(pattern, ms) {
      const end = Date.now() + ms;
      while (!pattern.test(screen)) {
        if (Date.now() > end) throw new Error(`the console never showed ${pattern}:\n${screen}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    qmp: () => Qmp.open(qmpPath),
    type: (text) => vm.stdin.write(text),
    closeOutput: () => vm.stdout.destroy(),
    signal: (sig) => vm.kill(sig),
    exited,
    // keel run takes the first SIGTERM as "power off cleanly", the second as "stop qemu now".
    stop: () => {
      vm.kill('SIGTERM');
      setTimeout(() => vm.kill('SIGTERM'), 200).unref();
    },
  };
}

/** Positions of the patterns on the screen; -1 where one is missing. */
export function positions(screen: string, patterns: Array<string | RegExp>): number[] {
  return patterns.map((p) => (typeof p === 'string' ? screen.indexOf(p) : screen.search(p)));
}

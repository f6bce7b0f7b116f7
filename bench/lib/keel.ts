// keel for real: dist/keel-init.js as PID 1 of a PID namespace
// (test/helpers/keel-ns.ts), driven with the keel CLI and read from its JSON log.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ServiceDetail } from '../../api/wire.js';
import { DIST, startKeel, type KeelNs } from '../../test/helpers/keel-ns.js';
import { sleep, track } from './cleanup.js';
import { readOr } from './proc.js';

export type { KeelNs };

export interface StateEvent {
  service: string;
  to: string;
  attempt: number;
  time: number;
}

export function cli(k: KeelNs, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', env: { ...process.env, KEEL_SOCKET: join(k.dir, 'state', 'keel.sock') }, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`keel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export const inspect = (k: KeelNs, name: string): ServiceDetail => JSON.parse(cli(k, 'inspect', name)) as ServiceDetail;

export function stateEvents(k: KeelNs): StateEvent[] {
  const out: StateEvent[] = [];
  for (const line of readOr(join(k.dir, 'state', 'keel.log')).split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { kind?: string; service?: string; to?: string; attempt?: number; time?: string };
    if (e.kind === 'service.state' && e.service && e.to && e.time) out.push({ service: e.service, to: e.to, attempt: e.attempt ?? 0, time: Date.parse(e.time) });
  }
  return out;
}

export async function waitForEvent(k: KeelNs, service: string, to: string, attempt: number, timeoutMs: number): Promise<StateEvent> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const e = stateEvents(k).find((x) => x.service === service && x.to === to && x.attempt === attempt);
    if (e) return e;
    if (Date.now() > end) throw new Error(`keel never logged ${service} ${to} for attempt ${attempt}`);
    await sleep(10);
  }
}

/** A service running the benchmarks' `sleep 100000` from a read-only busybox root. */
export function serviceYaml(name: string, rootfs: string, extra: string[] = []): string {
  return [`  - name: ${name}`, `    image: ${rootfs}`, '    readonly: true', '    command: ["/bin/sleep", "100000"]', ...extra.map((l) => `    ${l}`)].join('\n') + '\n';
}

export type Shutdown = { code: number | null; signal: NodeJS.Signals | null } | 'killed';

/** The keel running now, so that a failure can show what it printed. */
let current: KeelNs | undefined;
export function lastOutput(lines = 40): string {
  return current ? current.output().split('\n').slice(-lines).join('\n') : '';
}

/**
 * Starts keel-init with `manifest`. Stopping it (the function returned, or the
 * cleanups) shuts it down the normal way, SIGTERM, and kills it after a minute.
 */
export function launchKeel(manifest: string): { keel: KeelNs; stop: () => Promise<Shutdown> } {
  const keel = startKeel(manifest);
  current = keel;
  let result: Shutdown | undefined;
  const stop = track(async () => {
    try {
      keel.signal('SIGTERM');
    } catch {
      /* already gone */
    }
    result = await Promise.race([keel.exited, sleep(60_000).then(() => 'killed' as const)]);
    keel.cleanup();
  });
  return {
    keel,
    stop: async () => {
      await stop();
      return result ?? 'killed';
    },
  };
}

// What keel knows about this boot: when each part ended, each stage's
// duration, and the onboot results; the control API serves it as the boot
// report (GET /v1/boot, `keel boot-report`).
import { readFileSync } from 'node:fs';
import type { BootReport } from '../../api/wire.js';
import type { EntryResult } from '../../services/phase.js';
import { isFailure } from '../../runtime/outcome.js';

/** Milliseconds since the kernel started (machine mode), from /proc/uptime. */
export function uptimeMs(): number | undefined {
  try {
    return Math.round(parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!) * 1000);
  } catch {
    return undefined;
  }
}

export class BootRecord {
  readonly startedAt = Date.now();
  readonly uptimeAtStartMs: number | undefined;
  private readonly stages: Array<{ name: string; ms: number }> = [];
  private onboot: BootReport['onboot'] = [];
  onbootDoneAt: number | undefined;
  completeAt: number | undefined;
  servicesReadyAt: number | undefined;

  constructor(readonly machine: boolean) {
    this.uptimeAtStartMs = machine ? uptimeMs() : undefined;
  }

  stage(name: string, ms: number): void {
    this.stages.push({ name, ms });
  }

  onbootResults(results: readonly EntryResult[]): void {
    this.onboot = results.map((r) => ({ name: r.name, code: r.code, signal: r.signal, ms: r.durationMs, failed: isFailure(r) }));
    this.onbootDoneAt = Date.now();
  }

  report(): BootReport {
    const rel = (t: number | undefined) => (t === undefined ? undefined : t - this.startedAt);
    return {
      startedAt: new Date(this.startedAt).toISOString(),
      mode: this.machine ? 'machine' : 'namespace',
      kernelToKeelMs: this.uptimeAtStartMs,
      onbootMs: rel(this.onbootDoneAt),
      bootCompleteMs: rel(this.completeAt),
      servicesReadyMs: rel(this.servicesReadyAt),
      onboot: this.onboot,
      stages: [...this.stages],
    };
  }
}

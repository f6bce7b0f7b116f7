// What keel knows about this boot: when each part ended, each stage's
// duration, how the root left the initramfs, and the onboot results; the
// control API serves it as the boot report (GET /v1/boot, `keel boot-report`).
import { readFileSync } from 'node:fs';
import type { BootReport, BootTimeline } from '../../api/wire.js';
import type { EntryResult } from '../../services/phase.js';
import { isFailure } from '../../runtime/outcome.js';
import { kernelTimes } from '../machine/kernel-times.js';

/** Milliseconds since the kernel started (machine mode), from /proc/uptime. */
export function uptimeMs(): number | undefined {
  try {
    return Math.round(parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!) * 1000);
  } catch {
    return undefined;
  }
}

/** The machine's CPU time since boot, busy and idle, from /proc/stat's first line (in USER_HZ ticks: 100 a second). */
function machineCpuMs(): { machineBusyMs: number; machineIdleMs: number } | undefined {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.split(/\s+/).slice(1, 9).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are the CPU waiting.
    const idle = ticks[3]! + ticks[4]!;
    const all = ticks.reduce((a, b) => a + b, 0);
    return { machineBusyMs: (all - idle) * 10, machineIdleMs: idle * 10 };
  } catch {
    return undefined;
  }
}

export class BootRecord {
  readonly uptimeAtStartMs: number | undefined;
  private readonly stages: Array<{ name: string; ms: number }> = [];
  private onboot: BootReport['onboot'] = [];
  private readonly timeline: BootTimeline = {};
  private kernelTimesRead = false;
  root: BootReport['root'];
  /** These three, and every point of the timeline, are monotonic (performance.now()): a step of the wall clock during boot must not move them. */
  onbootDoneAt: number | undefined;
  completeAt: number | undefined;
  servicesReadyAt: number | undefined;
  private cpuAtReady: BootReport['cpuAtReady'];

  /**
   * When keel-init said its first line: `startedAt` on the wall clock (for the
   * report's date), `startedMono` on the monotonic one (for every duration; a
   * clock set by ntpd during boot once made "all services ready" an hour
   * after keel started). That line comes before the move out of the
   * initramfs, and so before /proc is mounted to read the uptime from: the
   * record is made after, and counts back.
   */
  constructor(
    readonly machine: boolean,
    readonly startedAt = Date.now(),
    readonly startedMono = performance.now(),
  ) {
    const up = machine ? uptimeMs() : undefined;
    this.uptimeAtStartMs = up === undefined ? undefined : Math.round(up - (performance.now() - startedMono));
    this.timeline.keelStartMs = this.uptimeAtStartMs;
  }

  /** ms from keel-init's start to `at` (monotonic). */
  sinceStart(at: number): number {
    return Math.round(at - this.startedMono);
  }

  /** ms since kernel start at `at` (monotonic), counted from keel-init's start: one read of /proc/uptime, no more. */
  private since(at: number): number | undefined {
    return this.uptimeAtStartMs === undefined ? undefined : this.uptimeAtStartMs + this.sinceStart(at);
  }

  /** A point of the timeline, now (or at `at`, monotonic). */
  mark(point: Exclude<keyof BootTimeline, 'unpackStartMs' | 'unpackEndMs' | 'initRunMs' | 'keelStartMs'>, at = performance.now()): void {
    const ms = this.since(at);
    if (ms !== undefined) this.timeline[point] = ms;
  }

  /** The kernel's own points (its log), read when the report is first asked for: off the critical path. */
  private readKernelTimes(): void {
    if (!this.machine || this.kernelTimesRead) return;
    this.kernelTimesRead = true;
    Object.assign(this.timeline, kernelTimes());
  }

  /** Where the CPU went until every service was ready: is boot bound by it, and how much of it is keel-init's. */
  markCpuAtReady(): void {
    const { user, system } = process.cpuUsage();
    this.cpuAtReady = { keelInitMs: Math.round((user + system) / 1000), ...(this.machine ? machineCpuMs() : {}) };
  }

  stage(name: string, ms: number): void {
    this.stages.push({ name, ms });
  }

  onbootResults(results: readonly EntryResult[]): void {
    this.onboot = results.map((r) => ({ name: r.name, code: r.code, signal: r.signal, ms: r.durationMs, failed: isFailure(r) }));
    this.onbootDoneAt = performance.now();
    this.mark('onbootDoneMs', this.onbootDoneAt);
  }

  report(): BootReport {
    this.readKernelTimes();
    const rel = (t: number | undefined) => (t === undefined ? undefined : this.sinceStart(t));
    return {
      startedAt: new Date(this.startedAt).toISOString(),
      mode: this.machine ? 'machine' : 'namespace',
      kernelToKeelMs: this.uptimeAtStartMs,
      onbootMs: rel(this.onbootDoneAt),
      bootCompleteMs: rel(this.completeAt),
      servicesReadyMs: rel(this.servicesReadyAt),
      onboot: this.onboot,
      stages: [...this.stages],
      ...(this.root ? { root: this.root } : {}),
      ...(this.machine ? { timeline: { ...this.timeline } } : {}),
      ...(this.cpuAtReady ? { cpuAtReady: this.cpuAtReady } : {}),
    };
  }
}

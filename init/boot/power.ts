// Shutdown requests, from wherever they come (a signal, the power button,
// keel poweroff): the first one runs the shutdown sequence, later ones are
// logged and ignored. The owners of running work register their stop hooks
// here as they come up; the grace period is the manifest's once it is read.
import { constants } from 'node:os';
import type { EventBus } from '../../events/bus.js';
import { emptyManifest } from '../../model/index.js';
import { CONTAINER_SHUTDOWN_TIMEOUT_MS, SHUTDOWN_TIMEOUT_MS } from '../../model/manifest.js';
import { unmountWritable } from '../machine/mounts.js';
import { flushVmChannel } from '../machine/vm-channel.js';
import { remainingProcesses, signalRemaining } from '../core/processes.js';
import { runShutdown, type StopHook } from '../core/shutdown.js';
import type { PowerAction } from '../core/signals.js';
import { REBOOT_CMD, type Sys } from '../core/sys.js';

export class PowerControl {
  private readonly hooks: StopHook[] = [];
  private graceMs = emptyManifest().shutdown.grace;
  private deadlineMs: number;
  /** A container's exit code, when something (the main service) decides it; else 0 after a stop in time, 1 after one past its deadline. */
  private exitCode: (() => number | undefined) | undefined;
  private exitRecorded: (() => Promise<void>) | undefined;
  private readonly beforeShutdown: Array<() => void> = [];
  private begun = false;
  /** The signal that began the shutdown, when one did (docker stop's SIGTERM). */
  private stopSignal: NodeJS.Signals | undefined;
  /** Whether a container's end has a main service to give its code (the CMD, or the manifest's main), known or not yet. */
  private hasMain: () => boolean = () => false;

  constructor(
    private readonly bus: EventBus,
    private readonly sys: Sys,
    private readonly machine: boolean,
    private readonly isPid1: boolean,
    /** A container image's init: a shorter default deadline, a grace inside it, and an exit code that says how it ended. */
    private readonly container = false,
  ) {
    this.deadlineMs = container ? CONTAINER_SHUTDOWN_TIMEOUT_MS : SHUTDOWN_TIMEOUT_MS;
  }

  get shuttingDown(): boolean {
    return this.begun;
  }

  /** Owners of running work, stopped in the order they were added. */
  addStopHook(hook: StopHook): void {
    this.hooks.push(hook);
  }

  /** The manifest's shutdown settings: the grace between SIGTERM and SIGKILL, and the deadline of the whole. */
  setTimes(times: { grace: number; timeout?: number }): void {
    this.graceMs = times.grace;
    if (times.timeout !== undefined) this.deadlineMs = times.timeout;
  }

  /** Where a container's exit code comes from (the main service's last exit). */
  exitCodeFrom(code: () => number | undefined, recorded?: () => Promise<void>): void {
    this.exitCode = code;
    this.exitRecorded = recorded;
  }

  /** Runs first when shutdown begins (the console prompt lets held lines flow again: an operator must see it). */
  onShutdown(f: () => void): void {
    this.beforeShutdown.push(f);
  }

  /**
   * A container that has a main service ends with its code; one that a signal stopped before the main ever ran
   * (before it was even set up: a docker stop early in boot) ends 128+N, as if the signal had ended the main.
   */
  expectMain(has: () => boolean): void {
    this.hasMain = has;
  }

  /** A shutdown a signal asked for: as request(), remembering the signal for signalExitCode(). */
  requestBySignal(action: PowerAction, signal: NodeJS.Signals): void {
    if (!this.begun) this.stopSignal = signal;
    this.request(action, signal);
  }

  /** 128+N when signal N began the shutdown, as a shell reports a program that signal ended; else undefined. */
  private signalExitCode(): number | undefined {
    return this.stopSignal ? 128 + (constants.signals[this.stopSignal] ?? 0) : undefined;
  }

  /** `exitCode` ends a container's init with that code, whatever else would decide it. */
  request(action: PowerAction, why: string, exitCode?: number): void {
    if (this.begun) {
      this.bus.emit({ kind: 'shutdown.ignored', message: `${why}: already shutting down` });
      return;
    }
    this.begun = true;
    if (exitCode !== undefined) this.exitCode = () => exitCode;
    for (const f of this.beforeShutdown) f();
    this.bus.emit({ kind: 'shutdown.requested', message: `${why}: ${action}`, action, reason: why });
    void runShutdown(action, {
      stopHooks: this.hooks,
      signalAll: (signal) => signalRemaining(this.isPid1, signal),
      remaining: () => remainingProcesses(this.isPid1),
      graceMs: this.graceMs,
      deadlineMs: this.deadlineMs,
      graceWithinDeadline: this.container,
      sync: () => this.sys.sync(),
      unmount: () => (this.machine ? unmountWritable(this.sys) : ''),
      finish: (a, inTime) => this.finish(a, inTime),
      emit: (e) => this.bus.emit(e),
      flushReplies: flushVmChannel,
    });
  }

  private finish(action: PowerAction, inTime: boolean): void {
    if (!this.machine) {
      void this.exitProcess(inTime);
      return;
    }
    try {
      this.sys.reboot(REBOOT_CMD[action]);
    } catch (err) {
      this.bus.emit({ kind: 'shutdown.error', level: 'error', message: `reboot(2) failed: ${(err as Error).message}; the machine is idle` });
    }
  }

  /**
   * A container's init exits with its main service's code. After a deadline the SIGKILL has gone out
   * but the main's exit may not be recorded yet on a loaded machine (it was read as "no exit", 1):
   * the record is waited for, within a bound.
   */
  private async exitProcess(inTime: boolean): Promise<void> {
    if (this.container) await this.exitRecorded?.().catch(() => undefined);
    if (!this.container) process.exit(0);
    // A main that never ran did not succeed: `docker run IMAGE cmd && next` must not go on.
    process.exit(this.exitCode?.() ?? (this.hasMain() ? this.signalExitCode() : undefined) ?? (inTime ? 0 : 1));
  }
}

// Shutdown requests, from wherever they come (a signal, the power button,
// keel poweroff): the first one runs the shutdown sequence, later ones are
// logged and ignored. The owners of running work register their stop hooks
// here as they come up; the grace period is the manifest's once it is read.
import type { EventBus } from '../../events/bus.js';
import { emptyManifest } from '../../model/index.js';
import { unmountWritable } from '../machine/mounts.js';
import { flushVmChannel } from '../machine/vm-channel.js';
import { remainingProcesses, signalRemaining } from '../core/processes.js';
import { runShutdown, type StopHook } from '../core/shutdown.js';
import type { PowerAction } from '../core/signals.js';
import { RB_AUTOBOOT, RB_HALT_SYSTEM, RB_POWER_OFF, type Sys } from '../core/sys.js';

const REBOOT_CMD: Record<PowerAction, number> = { poweroff: RB_POWER_OFF, reboot: RB_AUTOBOOT, halt: RB_HALT_SYSTEM };

export class PowerControl {
  private readonly hooks: StopHook[] = [];
  private graceMs = emptyManifest().shutdown.grace;
  private deadlineMs = emptyManifest().shutdown.timeout;
  private readonly beforeShutdown: Array<() => void> = [];
  private begun = false;

  constructor(
    private readonly bus: EventBus,
    private readonly sys: Sys,
    private readonly machine: boolean,
    private readonly isPid1: boolean,
  ) {}

  get shuttingDown(): boolean {
    return this.begun;
  }

  /** Owners of running work, stopped in the order they were added. */
  addStopHook(hook: StopHook): void {
    this.hooks.push(hook);
  }

  /** The manifest's shutdown settings: the grace between SIGTERM and SIGKILL, and the deadline of the whole. */
  setTimes(times: { grace: number; timeout: number }): void {
    this.graceMs = times.grace;
    this.deadlineMs = times.timeout;
  }

  /** Runs first when shutdown begins (the console prompt lets held lines flow again: an operator must see it). */
  onShutdown(f: () => void): void {
    this.beforeShutdown.push(f);
  }

  request(action: PowerAction, why: string): void {
    if (this.begun) {
      this.bus.emit({ kind: 'shutdown.ignored', message: `${why}: already shutting down` });
      return;
    }
    this.begun = true;
    for (const f of this.beforeShutdown) f();
    this.bus.emit({ kind: 'shutdown.requested', message: `${why}: ${action}`, action, reason: why });
    void runShutdown(action, {
      stopHooks: this.hooks,
      signalAll: (signal) => signalRemaining(this.isPid1, signal),
      remaining: () => remainingProcesses(this.isPid1),
      graceMs: this.graceMs,
      deadlineMs: this.deadlineMs,
      sync: () => this.sys.sync(),
      unmount: () => (this.machine ? unmountWritable(this.sys) : ''),
      finish: (a) => this.finish(a),
      emit: (e) => this.bus.emit(e),
      flushReplies: flushVmChannel,
    });
  }

  private finish(action: PowerAction): void {
    if (!this.machine) process.exit(0);
    try {
      this.sys.reboot(REBOOT_CMD[action]);
    } catch (err) {
      this.bus.emit({ kind: 'shutdown.error', level: 'error', message: `reboot(2) failed: ${(err as Error).message}; the machine is idle` });
    }
  }
}

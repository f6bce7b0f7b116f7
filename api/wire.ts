// The control API's wire types: what the server sends and the client reads,
// written once for both. The service records are the supervisor's own.
import type { ResourceStats } from '../runtime/engine.js';
import type { ServiceState } from '../services/states.js';

export type { ExitRecord, Health, ServiceDetail, ServiceSummary } from '../services/report.js';
export type { ServiceState } from '../services/states.js';
export type { LogLine } from '../services/log-ring.js';
export type { KeelEvent } from '../events/bus.js';
export type { ResourceStats } from '../runtime/engine.js';

/** POST /v1/services/NAME/{start,stop,restart,reset}: accepted, and the state it is in. */
export interface ActionReply {
  service: string;
  action: string;
  state: ServiceState;
}

/** GET /v1/stats: each service's resource use, null when it has no container. */
export type StatsReply = Record<string, ResourceStats | null>;

/** GET /v1/ttys/ID: a remote terminal, and how its program ended. */
export interface TtyStatus {
  id: number;
  what: string;
  running: boolean;
  exitCode: number | null;
  signal: number | null;
}

/** GET /v1/boot: how long each part of boot took. */
export interface BootReport {
  startedAt: string;
  mode: 'machine' | 'namespace';
  kernelToKeelMs: number | undefined;
  onbootMs: number | undefined;
  bootCompleteMs: number | undefined;
  servicesReadyMs: number | undefined;
  onboot: Array<{ name: string; code: number | null; signal: string | null; ms: number; failed: boolean }>;
  /** Each boot stage in order, with how long it took. */
  stages: Array<{ name: string; ms: number }>;
  /** Machine mode: how keel-init left the initramfs (moved in place, or copied into a tmpfs, and why), and how long it took. */
  root?: { way: 'moved' | 'copied' | 'none'; why?: string; ms: number };
  /** Machine mode: when each part of boot ended, in ms since the kernel started. */
  timeline?: BootTimeline;
  /** CPU time spent by the time every service was ready: keel-init's own, and (machine mode) the machine's busy and idle time since the kernel started. */
  cpuAtReady?: { keelInitMs: number; machineBusyMs?: number; machineIdleMs?: number };
}

export interface BootTimeline {
  /** The kernel began and finished unpacking the initramfs, and ran /init (from its log). */
  unpackStartMs?: number;
  unpackEndMs?: number;
  initRunMs?: number;
  /** keel-init's first line, after the root left the initramfs. */
  keelStartMs?: number;
  machineReadyMs?: number;
  runcReadyMs?: number;
  onbootDoneMs?: number;
  bootCompleteMs?: number;
  servicesReadyMs?: number;
}

/** Every error answer. */
export interface ErrorReply {
  error: string;
}

/** POST /v1/poweroff and /v1/reboot. */
export interface PowerReply {
  action: 'poweroff' | 'reboot';
}

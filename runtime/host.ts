// What the runtime needs from the init that hosts it: exit statuses of the
// container processes left to it (it is their reaper) and mount(2).
import type { ExitStatus } from './outcome.js';

export interface Host {
  /** Resolves when `pid` (a child of ours) is reaped; `since` is a performance.now() from before it was born. */
  waitPid(pid: number, since: number): Promise<ExitStatus>;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, detach: boolean): void;
}

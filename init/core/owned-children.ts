// Which of our children belong to someone else's waitpid.
//
// libuv reaps the children that child_process spawned by waiting on their pid;
// node-pty does the same for its terminals. If keel's reaper collected one of
// those first, the owner would never see the exit (docs/architecture.md, "Reaping in Node"). So
// every such pid is recorded here, and the reaper leaves recorded pids alone.
import { ChildProcess } from 'node:child_process';
import { asChildWouldBe } from './huge-pages.js';

const owned = new Set<number>();
let patched = false;

export function isOwned(pid: number): boolean {
  return owned.has(pid);
}

/** Records a pid that another waiter (e.g. node-pty) will collect; call release when it has. */
export function claim(pid: number): void {
  owned.add(pid);
}

export function release(pid: number): void {
  owned.delete(pid);
}

/**
 * Records every child that child_process spawns, from any module. All of
 * spawn, exec, execFile and fork go through ChildProcess.prototype.spawn, and
 * JavaScript cannot run between the fork inside it and our bookkeeping here,
 * so the reaper can never see an unrecorded child_process child.
 */
export function trackChildProcesses(): void {
  if (patched) return;
  patched = true;
  // Not in Node's type declarations, but present and stable since Node 0.x.
  const proto = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, options: unknown) => unknown };
  const original = proto.spawn;
  proto.spawn = function spawnTracked(this: ChildProcess, options: unknown) {
    const result = asChildWouldBe(() => original.call(this, options));
    const pid = this.pid;
    if (pid !== undefined) {
      owned.add(pid);
      this.once('exit', () => owned.delete(pid));
    }
    return result;
  };
}

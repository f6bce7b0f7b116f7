// The claim on keel-init's state directory: one keel-init per directory for
// its whole life (docs/architecture.md, "One keel per state directory"). The
// claim is flock(2) on the directory itself: the kernel holds it, and drops it
// when the holder ends however it ends, SIGKILL included, so a dead keel's
// claim never blocks the next one and no pid has to be trusted to be alive.
// keel.owner only says who holds it, for the message of a keel-init refused it.
import { accessSync, constants, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { statePaths } from '../../model/layout.js';
import type { Sys } from './sys.js';

export type StateClaim =
  | { kind: 'claimed' }
  /** Another live process holds the directory's lock; `holder` is who keel.owner names, if it names anyone. */
  | { kind: 'held'; holder: string | undefined }
  /** No claim could be made (no directory on a read-only filesystem, a filesystem without flock). */
  | { kind: 'failed'; error: string }
  /** The directory is there but keel-init cannot write it (a read-only filesystem, another user's). */
  | { kind: 'unwritable'; error: string };

interface OwnerRecord {
  pid: number;
  pidNamespace: string | undefined;
  mode: string;
}

/** Claims `dir` (made if missing) for this keel-init until it exits. */
export function claimStateDir(sys: Sys, dir: string, mode: string): StateClaim {
  const { owner } = statePaths(dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!sys.lockDirectory(dir)) return { kind: 'held', holder: holderOf(owner) };
  } catch (err) {
    return { kind: 'failed', error: (err as Error).message };
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    return { kind: 'unwritable', error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
  const record: OwnerRecord = { pid: process.pid, pidNamespace: pidNamespace(), mode };
  try {
    writeFileSync(owner, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  } catch {
    /* only a hint for a refused keel: a read-only directory goes without it */
  }
  return { kind: 'claimed' };
}

/** This process's PID namespace, as /proc names it (pid:[4026531836]). */
function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/**
 * Who keel.owner names. A pid from another PID namespace is not this one's
 * (in namespace mode it is 1), so that namespace is named beside it.
 */
function holderOf(path: string): string | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<OwnerRecord>;
    if (typeof r.pid !== 'number' || typeof r.pidNamespace !== 'string') return undefined;
    return r.pidNamespace === pidNamespace() ? `pid ${r.pid}` : `pid ${r.pid} in another PID namespace, ${r.pidNamespace}`;
  } catch {
    return undefined;
  }
}

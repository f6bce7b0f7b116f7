// A process entry's plan: everything its starts need, resolved once (the
// user and groups by name, the environment, the limits), and the command's
// path, found at each start (a file onboot installs may appear later).
import { chmodSync, chownSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ContainerBase } from '../model/index.js';
import type { ContainerPlan } from './engine.js';
import { DEFAULT_PATH } from '../model/layout.js';
import { findOnPath, searchPath } from './helper-process.js';
import type { ExtraConfig } from './oci-spec.js';
import type { Resources } from './process-cgroup.js';
import { resolveUser, type User } from './users.js';

/** Resource numbers of setrlimit(2), by the manifest's names. */
const RLIMIT_NUMBERS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export interface ProcessPlan extends ContainerPlan {
  readonly kind: 'process';
  argv: string[];
  env: string[];
  cwd: string;
  /** The user to switch to; undefined when it is keel's own. */
  user: User | undefined;
  /** The user the process runs as, switched to or not (for probes). */
  ids: { uid: number; gid: number };
  rlimits: Array<[number, number, number]>;
  noNewPrivileges: boolean;
  oomScoreAdj: number | undefined;
  resources: Resources | undefined;
}

/** keel's own variables, and a notify socket meant for keel itself, are not a process entry's. */
export function inheritedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('KEEL_') && k !== 'NOTIFY_SOCKET' && !k.startsWith('WATCHDOG_')) out[k] = v;
  return out;
}

/**
 * What keel adds (a notify socket bound into a container) becomes, for a
 * process, the bound path itself: an env value naming a bind's destination
 * names its source. A bind's source must be reachable as the process's user.
 */
function extraEnv(extra: ExtraConfig | undefined, user: { uid: number; gid: number }): string[] {
  const binds = new Map((extra?.mounts ?? []).filter((m) => m.type === 'bind').map((m) => [m.destination, m.source]));
  for (const source of binds.values()) {
    if (user.uid === 0 || !existsSync(source)) continue;
    chownSync(source, user.uid, user.gid);
    chmodSync(source, 0o600); // only that user (and root) may send to it
    // Its directory and the state directory above it are crossed, never listed (0711), as bundles' are.
    for (const dir of [dirname(source), dirname(dirname(source))]) chmodSync(dir, statSync(dir).mode | 0o011);
  }
  return (extra?.env ?? []).map((e) => {
    const eq = e.indexOf('=');
    const source = binds.get(e.slice(eq + 1));
    return source !== undefined ? `${e.slice(0, eq + 1)}${source}` : e;
  });
}

/**
 * The entry's environment: keel's inherited one, the entry's env over it,
 * keel's additions, then PATH if still unset, and HOME: the user's when the
 * entry switches user (an inherited HOME is keel's user's: Docker sets it
 * for the image's USER), unless the entry's env gives one.
 */
function environment(base: Record<string, string>, entry: ContainerBase, extra: ExtraConfig | undefined, user: User, switched: boolean): string[] {
  const vars = new Map(Object.entries(base));
  if (switched) vars.delete('HOME');
  for (const e of [...(entry.env ?? []), ...extraEnv(extra, user)]) {
    const eq = e.indexOf('=');
    vars.set(e.slice(0, eq), e.slice(eq + 1));
  }
  if (!vars.has('PATH')) vars.set('PATH', DEFAULT_PATH);
  if (!vars.has('HOME')) vars.set('HOME', user.home);
  return [...vars].map(([k, v]) => `${k}=${v}`);
}

export function planProcess(id: string, entry: ContainerBase, base: Record<string, string>, extra?: ExtraConfig): ProcessPlan {
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  // No uid, gid or groups given: the process runs as keel does, which in a container is the image's USER
  // (docker run --user 1000). Switching to root by default failed there: setgroups needs root.
  const asKeel = entry.uid === undefined && entry.gid === undefined && entry.additionalGids === undefined;
  const user = resolveUser(asKeel ? self : entry, entry.name);
  const same = user.uid === self.uid && user.gid === self.gid && entry.additionalGids === undefined;
  const rlimits = (entry.rlimits ?? []).map((r): [number, number, number] => [RLIMIT_NUMBERS[r.type]!, r.soft, r.hard]);
  return {
    kind: 'process',
    id,
    name: entry.name,
    argv: entry.command ?? [],
    env: environment(base, entry, extra, user, !same),
    cwd: entry.cwd ?? '/',
    user: same ? undefined : user,
    ids: { uid: user.uid, gid: user.gid },
    rlimits,
    noNewPrivileges: entry.noNewPrivileges ?? false,
    oomScoreAdj: entry.oomScoreAdj,
    resources: entry.resources,
  };
}

export function resolveCommand(plan: Pick<ProcessPlan, 'argv' | 'env' | 'cwd' | 'name'>): string {
  const cmd = plan.argv[0] ?? '';
  const path = searchPath(plan.env);
  const found = findOnPath(cmd, path, plan.cwd);
  if (found === undefined) throw new Error(`${cmd}: command not found (PATH=${path})`);
  return found;
}

// The runtime's view of PID 1: exit statuses from the reaper, mount(2) and
// the spawn of process entries from the addon.
import type { Host, SpawnRequest } from '../../runtime/host.js';
import type { Reaper } from './reaper.js';
import { MNT_DETACH, type SpawnOptions, type Sys } from './sys.js';

export function spawnOptions(r: SpawnRequest): SpawnOptions {
  return {
    path: r.path,
    argv: r.argv,
    env: r.env ?? null,
    cwd: r.cwd,
    changeUser: r.user ? 1 : 0,
    uid: r.user?.uid ?? 0,
    gid: r.user?.gid ?? 0,
    groups: r.user?.groups ?? [],
    rlimits: r.rlimits.flat(),
    stdio: r.stdio,
    noNewPrivs: r.noNewPrivileges ? 1 : 0,
    foreground: r.foreground ? 1 : 0,
    cgroupFd: r.cgroupFd ?? -1,
    oomScoreAdj: r.oomScoreAdj ?? null,
  };
}

export function runtimeHost(sys: Sys, reaper: Reaper): Host {
  return {
    waitPid: (pid, since) => reaper.wait(pid, since),
    mount: (source, target, fstype, flags, data) => sys.mount(source, target, fstype, flags, data),
    umount: (target, detach) => sys.umount2(target, detach ? MNT_DETACH : 0),
    spawnProcess: (request) => sys.spawnProcess(spawnOptions(request)),
    pipe: () => sys.pipe(),
  };
}

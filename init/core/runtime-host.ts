// The runtime's view of PID 1: exit statuses from the reaper, mount(2) from the addon.
import type { Host } from '../../runtime/host.js';
import type { Reaper } from './reaper.js';
import { MNT_DETACH, type Sys } from './sys.js';

export function runtimeHost(sys: Sys, reaper: Reaper): Host {
  return {
    waitPid: (pid, since) => reaper.wait(pid, since),
    mount: (source, target, fstype, flags, data) => sys.mount(source, target, fstype, flags, data),
    umount: (target, detach) => sys.umount2(target, detach ? MNT_DETACH : 0),
  };
}

// keel-init's memory without transparent huge pages, its children's with the
// machine's policy. A stock kernel (Debian's: "always") backs any 2 MiB-aligned
// stretch of anonymous memory a process touches with a huge page, and V8's
// heap reservations are such stretches: keel-init, idle between bursts, held
// one or two 2 MiB pages it barely used (RSS at boot complete 55 or 57 MiB
// from boot to boot, 53 without them). The image's /init opts out before it
// compiles the bundle (pkg/image/init-loader.ts), keel-init again in main()
// for every other way it starts; a huge page node's own start-up took before
// that stays (one boot in four still showed 55 MiB). The kernel copies the opt-out into
// every child at fork and keeps it across execve, so each fork keel makes
// lifts it and sets it again: the addon's own spawn does so itself
// (init/native/keel_sys.c), and forks made by child_process and node-pty go
// through asChildWouldBe.
import type { Sys } from './sys.js';

let optedOut: Sys | undefined;

/** keel's own memory gets no transparent huge pages; returns why not when the kernel refuses (no THP in it). */
export function optOutOfHugePages(sys: Sys): string | undefined {
  try {
    sys.disableHugePages();
    optedOut = sys;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Runs a fork-and-exec (`spawn`) with keel's opt-out lifted, so that the child gets the machine's policy. */
export function asChildWouldBe<T>(spawn: () => T): T {
  const sys = optedOut;
  if (!sys) return spawn();
  sys.childHugePages(true);
  try {
    return spawn();
  } finally {
    sys.childHugePages(false);
  }
}

// What needs root, said before anything starts: keel build and keel run
// without it would fail halfway with EACCES or EPERM from deep inside. Exit
// code 4 (docs/cli.md).
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';

export class NeedsRoot extends Error {
  override name = 'NeedsRoot';
}

const isRoot = () => process.geteuid?.() === 0;

/** keel build unpacks layers as they are: files owned by their users, device nodes; only root can make those. */
export function requireRootToBuild(): void {
  if (isRoot()) return;
  throw new NeedsRoot(
    'keel build needs root: it unpacks image layers with their owners and device files, and asks the Docker engine (whose socket is root\'s) for images; run it as root (sudo)',
  );
}

/** The nearest folder that exists on the way to `path`. */
function existingParent(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * keel run registers the VM in the VM folder (/run/keel/vms: root's, as the
 * control sockets it holds give root's power over the guest). Someone else
 * may run it with KEEL_VM_DIR pointing at a folder of their own.
 */
export function requireRootToRun(vmsRoot: string): void {
  if (isRoot()) return;
  const at = existingParent(vmsRoot);
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
    return;
  } catch {
    throw new NeedsRoot(
      `keel run needs root: the VM's control sockets go in ${vmsRoot}, which only root may write (they give root's power over the guest); run it as root (sudo), or set KEEL_VM_DIR to a folder of your own`,
    );
  }
}

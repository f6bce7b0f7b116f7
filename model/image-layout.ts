// Where things live inside a keel image: the contract between `keel build`,
// which puts them there, and keel-init, which reads them at boot.

/** keel's own files: keel-init.js, keel.js, the native addon, node-pty. */
export const KEEL_LIB = '/usr/lib/keel';

/** The normalized manifest keel-init runs by default. */
export const IMAGE_MANIFEST = '/etc/keel/manifest.json';

/** The kernel modules keel-init loads at boot, one path a line, dependencies first. */
export const MODULE_LIST = '/etc/keel/modules';

/** keel-init's state (its log, the control socket, bundles) when none is named. */
export const DEFAULT_STATE_DIR = '/run/keel';

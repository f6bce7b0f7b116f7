// Where things live: inside a keel image (the contract between `keel build`,
// which puts them there, and keel-init, which reads them at boot), and in
// keel-init's state directory (shared by keel-init, its runtime and the CLI).
import { join } from 'node:path';

/** keel's own files: keel-init.js, keel.js, the native addon, node-pty. */
export const KEEL_LIB = '/usr/lib/keel';

/** The image's node: what /init and the keel CLI run with. */
export const IMAGE_NODE = '/usr/bin/node';

/** The normalized manifest keel-init runs by default. */
export const IMAGE_MANIFEST = '/etc/keel/manifest.json';

/** The kernel modules keel-init loads at boot (model/module-list.ts says how the list is written). */
export const MODULE_LIST = '/etc/keel/modules';

/** The program keel-init names in /proc/sys/kernel/modprobe: loads a module of the list when the kernel asks for it. */
export const MODPROBE_HELPER = '/usr/lib/keel/modprobe';

/** keel-init's state (its log, the control socket, bundles) when none is named. */
export const DEFAULT_STATE_DIR = '/run/keel';
/** The cgroup containers get theirs under when the manifest names none: /keel/NAME. */
export const DEFAULT_CGROUP_PARENT = '/keel';

/** What keel-init keeps in its state directory. */
export interface StatePaths {
  dir: string;
  /** The control API's socket. */
  socket: string;
  /** The JSON event log. */
  log: string;
  /** Who holds the state directory (the keel-init that locked it): its pid and PID namespace, named to a keel-init refused the directory. */
  owner: string;
  /** runc's --root: keel's containers, apart from any other runc user. */
  runcRoot: string;
  /** One bundle per running container: containers/ID. */
  containers: string;
  /** A writable run's overlay layer (upper/ and work/): layers/ID; a tmpfs of their own, apart from the state, where the state is a tmpfs. */
  layers: string;
  /** onboot/onshutdown logs (PHASE.NAME.log) and service log files (NAME.log). */
  logs: string;
  /** sd_notify sockets. */
  notify: string;
}

export function statePaths(stateDir: string): StatePaths {
  return {
    dir: stateDir,
    socket: join(stateDir, 'keel.sock'),
    log: join(stateDir, 'keel.log'),
    owner: join(stateDir, 'keel.owner'),
    runcRoot: join(stateDir, 'runc'),
    containers: join(stateDir, 'containers'),
    layers: join(stateDir, 'layers'),
    logs: join(stateDir, 'logs'),
    notify: join(stateDir, 'notify'),
  };
}

/** Where the CLI looks for keel-init when no socket is named. */
export const DEFAULT_SOCKET = statePaths(DEFAULT_STATE_DIR).socket;

/**
 * Where a container's init that cannot write DEFAULT_STATE_DIR (another user
 * than root; --read-only) keeps its state, per user, in the order tried: the
 * temporary directory, then /dev/shm, the tmpfs Docker and Podman give every
 * container, writable even with --read-only.
 */
export function ownStateDirs(): string[] {
  const name = `keel-${process.getuid?.() ?? 0}`;
  // TMPDIR as os.tmpdir() reads it, without loading node:os before keel-init's first line.
  const tmp = join(process.env.TMPDIR || '/tmp', name);
  const shm = join('/dev/shm', name);
  return tmp === shm ? [tmp] : [tmp, shm];
}

/** Instance data, as keel-init writes it at boot for containers to bind (LinuxKit's layout: userdata, provider, JSON as files). */
export const INSTANCE_CONFIG_DIR = '/run/config';

/** The qemu fw_cfg file `keel run --data` passes the instance data in (/sys/firmware/qemu_fw_cfg/by_name/… in the guest). */
export const FW_CFG_USERDATA = 'opt/org.keel/userdata';

/**
 * The qemu fw_cfg file by which `keel run` says that nothing sits behind the disk controller its machine always has
 * (qemu's q35: SATA; pc: IDE). It holds that controller's kind, and keel-init then leaves the kind's driver
 * (CONTROLLER_DRIVERS) for after boot (init/machine/controller-hold.ts).
 */
export const FW_CFG_EMPTY_CONTROLLER = 'opt/org.keel/empty-controller';
export type ControllerKind = 'SATA' | 'IDE';
export const CONTROLLER_DRIVERS: Readonly<Record<ControllerKind, string>> = { SATA: 'ahci', IDE: 'ata_piix' };

/** The search path where none is set (the kernel starts init with none): where runc, ip and a shell usually live. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

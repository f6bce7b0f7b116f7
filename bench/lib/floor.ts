// The floor for booting containers: an initramfs with busybox, runc and its
// libraries, and the same containers as a keel manifest, started by a shell
// script as /init that calls `runc run` in manifest order. Nothing can do this
// work with less, so keel's boot is compared against it, point by point: the
// script prints the time at each point keel's boot report has.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildCpio, type CpioEntry } from '../../pkg/image/cpio.js';
import { compress, DEFAULT_COMPRESSION } from '../../pkg/image/initrd.js';
import { hostTree } from '../../pkg/image/files.js';
import { binaryWithLibraries, EARLY_ROOT, runcPath } from '../../pkg/image/node-runtime.js';
import { loadManifest } from '../../model/index.js';
import { buildOciSpec, specJson } from '../../runtime/oci-spec.js';

// Images are copied owned by root, as keel build copies local directories.
const ROOT_OWNED = { uid: 0, gid: 0 };

export const FLOOR_INIT = /floor: \/init started ([\d.]+) s after kernel start/;
export const FLOOR_SETUP = /floor: set-up done ([\d.]+) s after kernel start/;
export const FLOOR_ONBOOT = /floor: onboot done ([\d.]+) s after kernel start/;
/** A container the floor could not run: its numbers would not be a floor. */
export const FLOOR_FAILED = /floor: FAILED .*/;
export const FLOOR_DONE = /floor: all (\d+) services running ([\d.]+) s after kernel start/;
/** The kernel's own lines, which the script prints from its log at the end (dmesg: "[  1.234567] text"). */
export const FLOOR_UNPACK_START = /floor-kmsg: \[\s*([\d.]+)\] Trying to unpack rootfs/;
export const FLOOR_UNPACK_END = /floor-kmsg: \[\s*([\d.]+)\] Freeing initrd memory/;
export const FLOOR_INIT_RUN = /floor-kmsg: \[\s*([\d.]+)\] Run \/init as init process/;

// Stage 1 (on the initramfs, where runc's pivot_root is refused): the root
// moved out of it in place, as keel-init does (bind / onto a directory, move
// that over /, chroot into it), then this script again.
// Stage 2: the mounts runc needs, then the containers in order.
function initScript(onboot: string[], services: string[]): string {
  const run = (phase: string, name: string, detach: boolean) =>
    `runc --root /run/runc run ${detach ? '-d ' : ''}--bundle /containers/${phase}/${name} ${phase === 'services' ? name : `${phase}.${name}`} </dev/null >/tmp/${name}.log 2>&1 || { echo "floor: FAILED ${phase} ${name}"; cat /tmp/${name}.log; }`;
  return `#!/bin/sh
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
if [ -z "$FLOOR_STAGE2" ]; then
  mount -t proc proc /proc; read up idle < /proc/uptime; umount /proc
  echo "floor: /init started $up s after kernel start"
  mount -o rbind / /newroot
  cd /newroot
  mount -o move . /
  FLOOR_STAGE2=1 exec chroot . /init
fi
mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
read up idle < /proc/uptime
echo "floor: set-up done $up s after kernel start"
${onboot.map((n) => run('onboot', n, false)).join('\n')}
read up idle < /proc/uptime
echo "floor: onboot done $up s after kernel start"
${services.map((n) => run('services', n, true)).join('\n')}
read up idle < /proc/uptime
echo "floor: all ${services.length} services running $up s after kernel start"
dmesg | grep -E 'Trying to unpack rootfs|Freeing initrd memory|Run /init as init process' | sed 's/^/floor-kmsg: /'
poweroff -f
`;
}

export interface FloorImage {
  cpio: Buffer;
  /** The cpio compressed as keel build compresses by default. */
  initrd: Buffer;
  cmdline: string;
}

/** Builds the floor initramfs for `manifestPath` (local-directory images only). */
export async function buildFloor(manifestPath: string): Promise<FloorImage> {
  const manifest = loadManifest(resolve(manifestPath));
  const baseDir = dirname(resolve(manifestPath));
  const entries: CpioEntry[] = [
    ...EARLY_ROOT,
    { path: '/newroot', type: 'dir', mode: 0o755 },
    { path: '/bin/busybox', type: 'file', mode: 0o755, data: readFileSync('/bin/busybox') },
    ...['sh', 'mount', 'umount', 'mkdir', 'chroot', 'poweroff', 'cat', 'dmesg', 'grep', 'sed'].map((a): CpioEntry => ({ path: `/bin/${a}`, type: 'symlink', target: 'busybox' })),
    ...binaryWithLibraries(runcPath(), '/usr/bin/runc'),
  ];
  for (const phase of ['onboot', 'services'] as const) {
    for (const c of manifest[phase]) {
      const at = `/containers/${phase}/${c.name}`;
      const { spec } = buildOciSpec({ entry: c, image: {}, rootfs: `${at}/rootfs`, idOf: () => undefined });
      if (!spec.root.readonly) throw new Error(`${c.name}: the floor runs read-only containers only (no overlay); set readonly: true`);
      spec.linux.cgroupsPath = `/floor/${c.name}`;
      entries.push(...hostTree(resolve(baseDir, c.image ?? ''), `${at}/rootfs`, ROOT_OWNED, undefined), { path: `${at}/config.json`, type: 'file', mode: 0o644, data: Buffer.from(specJson(spec)) });
    }
  }
  entries.push({ path: '/init', type: 'file', mode: 0o755, data: Buffer.from(initScript(manifest.onboot.map((c) => c.name), manifest.services.map((c) => c.name))) });
  const cpio = buildCpio(entries);
  return { cpio, initrd: await compress(DEFAULT_COMPRESSION, cpio), cmdline: manifest.kernel?.cmdline ?? '' };
}

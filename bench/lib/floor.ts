// The floor for booting containers: an initramfs with busybox, runc and its
// libraries, and the same containers as a keel manifest, started by a shell
// script as /init that calls `runc run` in manifest order. Nothing can do this
// work with less, so keel's boot is compared against it.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildCpio, type CpioEntry } from '../../pkg/image/cpio.js';
import { hostTree } from '../../pkg/image/files.js';
import { binaryWithLibraries, EARLY_ROOT, runcPath } from '../../pkg/image/node-runtime.js';
import { loadManifest } from '../../model/index.js';
import { buildOciSpec, specJson } from '../../runtime/oci-spec.js';

// Images are copied owned by root, as keel build copies local directories.
const ROOT_OWNED = { uid: 0, gid: 0 };

export const FLOOR_INIT = /floor: \/init started ([\d.]+) s after kernel start/;
export const FLOOR_DONE = /floor: all (\d+) services running ([\d.]+) s after kernel start/;

// Stage 1 (on the initramfs, where runc's pivot_root is refused): copy
// everything into a tmpfs and switch_root to it, as keel-init does.
// Stage 2: the mounts runc needs, then the containers in order.
function initScript(onboot: string[], services: string[]): string {
  const run = (phase: string, name: string, detach: boolean) =>
    `runc --root /run/runc run ${detach ? '-d ' : ''}--bundle /containers/${phase}/${name} ${phase === 'services' ? name : `${phase}.${name}`} </dev/null >/tmp/${name}.log 2>&1`;
  return `#!/bin/sh
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
if [ ! -e /.stage2 ]; then
  mount -t proc proc /proc; read up idle < /proc/uptime; umount /proc
  echo "floor: /init started $up s after kernel start"
  mount -t tmpfs -o mode=0755 tmpfs /newroot
  for d in bin usr lib lib64 etc containers init; do [ -e /$d ] && cp -a /$d /newroot/; done
  mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp
  : > /newroot/.stage2
  exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
${onboot.map((n) => run('onboot', n, false)).join('\n')}
${services.map((n) => run('services', n, true)).join('\n')}
read up idle < /proc/uptime
echo "floor: all ${services.length} services running $up s after kernel start"
poweroff -f
`;
}

export interface FloorImage {
  cpio: Buffer;
  gzip: Buffer;
  cmdline: string;
}

/** Builds the floor initramfs for `manifestPath` (local-directory images only). */
export function buildFloor(manifestPath: string): FloorImage {
  const manifest = loadManifest(resolve(manifestPath));
  const baseDir = dirname(resolve(manifestPath));
  const entries: CpioEntry[] = [
    ...EARLY_ROOT,
    { path: '/newroot', type: 'dir', mode: 0o755 },
    { path: '/bin/busybox', type: 'file', mode: 0o755, data: readFileSync('/bin/busybox') },
    ...['sh', 'mount', 'umount', 'cp', 'mkdir', 'switch_root', 'poweroff', 'cat'].map((a): CpioEntry => ({ path: `/bin/${a}`, type: 'symlink', target: 'busybox' })),
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
  return { cpio, gzip: gzipSync(cpio, { level: 6 }), cmdline: manifest.kernel?.cmdline ?? '' };
}

// The floor for booting containers: an initramfs with busybox, runc and its
// libraries, and the same containers as a keel manifest, started by a shell
// script as /init that calls `runc run` in manifest order. Nothing can do this
// work with less, so keel's boot is compared against it.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildCpio, type CpioEntry } from '../../pkg/build/cpio.js';
import { binaryWithLibraries } from '../../pkg/build/node-runtime.js';
import { loadManifest } from '../../pkg/manifest/index.js';
import { buildOciSpec, specJson } from '../../runtime/oci-spec.js';

export const FLOOR_INIT = /floor: \/init started ([\d.]+) s after kernel start/;
export const FLOOR_DONE = /floor: all (\d+) services running ([\d.]+) s after kernel start/;

/** A host directory as archive entries under `at`, owned by root (as keel build copies images). */
function tree(src: string, at: string): CpioEntry[] {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return [{ path: at, type: 'symlink', target: readlinkSync(src) }];
  if (st.isDirectory()) return [{ path: at, type: 'dir', mode: st.mode & 0o7777 }, ...readdirSync(src).sort().flatMap((n) => tree(join(src, n), `${at}/${n}`))];
  if (st.isFile()) return [{ path: at, type: 'file', mode: st.mode & 0o7777, data: readFileSync(src) }];
  return [];
}

function runcPath(): string {
  const p = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'].find((x) => existsSync(x));
  if (!p) throw new Error('runc is not installed');
  return p;
}

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
    { path: '/dev', type: 'dir', mode: 0o755 },
    { path: '/dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
    { path: '/dev/null', type: 'char', mode: 0o666, major: 1, minor: 3 },
    { path: '/proc', type: 'dir', mode: 0o555 },
    { path: '/sys', type: 'dir', mode: 0o555 },
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
      entries.push(...tree(resolve(baseDir, c.image), `${at}/rootfs`), { path: `${at}/config.json`, type: 'file', mode: 0o644, data: Buffer.from(specJson(spec)) });
    }
  }
  entries.push({ path: '/init', type: 'file', mode: 0o755, data: Buffer.from(initScript(manifest.onboot.map((c) => c.name), manifest.services.map((c) => c.name))) });
  const cpio = buildCpio(entries);
  return { cpio, gzip: gzipSync(cpio, { level: 6 }), cmdline: manifest.kernel?.cmdline ?? '' };
}

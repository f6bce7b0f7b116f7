// The parts of an image that differ when it is for another architecture than
// this machine's: runc, busybox and node with their libraries from that
// architecture's Debian packages (arch-root.ts), keel's addon and node-pty's
// cross-compiled by `make build` into dist/ARCH/, and the outputs keel can
// make for it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_NODE, KEEL_LIB } from '../../model/layout.js';
import type { Arch } from './arch.js';
import { archRoot, foreignBinariesWithLibraries } from './arch-root.js';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';

/**
 * runc, busybox (and /bin/sh) and node for `arch`, with every library they
 * load. `interfacesIn`: the manifest, when it makes interfaces (ip is not
 * carried for another architecture). `refresh`: the packages' current
 * versions (keel build --update-lock).
 */
export function foreignRuntime(arch: Arch, node: string, interfacesIn: string | undefined, refresh = false): CpioEntry[] {
  if (interfacesIn) throw new BuildError(`${interfacesIn}: runtime.interfaces needs iproute2's ip in the image, which keel carries only in images for this machine's architecture; build without --arch ${arch}, or leave the interfaces out`);
  const root = archRoot(arch, refresh);
  return [
    ...foreignBinariesWithLibraries(arch, root.root, [
      { file: root.runc, at: '/usr/bin/runc' },
      { file: node, at: IMAGE_NODE },
    ]),
    { path: '/bin/busybox', type: 'file', mode: 0o755, data: readFileSync(root.busybox) },
    { path: '/bin/sh', type: 'symlink', target: 'busybox' },
  ];
}

/** The cross-compiled native addons `make build` writes to dist/ARCH/. */
export function foreignAddonFiles(arch: Arch, distDir: string): { keelSys: string; pty: string } {
  return { keelSys: join(distDir, arch, 'keel_sys.node'), pty: join(distDir, arch, 'pty.node') };
}

/** keel's addon and node-pty's, for `arch`, at the paths this machine's builds would have. */
export function foreignAddons(arch: Arch, distDir: string): CpioEntry[] {
  const files = foreignAddonFiles(arch, distDir);
  const missing = Object.values(files).filter((f) => !existsSync(f));
  if (missing.length) throw new BuildError(`keel's native addons for ${arch} are missing (${missing.join(', ')}); run "make build" with the cross compiler installed (apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)`);
  return [
    { path: `${KEEL_LIB}/keel_sys.node`, type: 'file', mode: 0o755, data: readFileSync(files.keelSys) },
    { path: `${KEEL_LIB}/node_modules/node-pty/build/Release/pty.node`, type: 'file', mode: 0o755, data: readFileSync(files.pty) },
  ];
}

/** The outputs an image for `arch` can have: every one for amd64; kernel+initrd and tar for arm64 (the disks and ISOs boot amd64's firmware). */
export function checkArchFormats(arch: Arch, formats: readonly string[]): void {
  if (arch === 'amd64') return;
  const refused = formats.filter((f) => f !== 'tar' && f !== 'kernel+initrd');
  if (refused.length) throw new BuildError(`--format ${refused.join(',')}: keel builds ${arch} images as kernel+initrd and tar only; the disk and ISO formats are built for amd64`);
}

// out/busybox-rootfs, the demo's and the fixtures' container image, made by
// examples/make-rootfs.sh when it is missing (as the Makefile's rule does).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './results.js';

export function ensureBusyboxRootfs(): string {
  const dir = join(REPO, 'out/busybox-rootfs');
  if (existsSync(join(dir, 'bin/busybox'))) return dir;
  const r = spawnSync(join(REPO, 'examples/make-rootfs.sh'), [dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`examples/make-rootfs.sh failed: ${r.stderr}`);
  return dir;
}

// Kernels read out of images (ISOs, disks), kept as files for the KVM
// probe, which boots a bare kernel. Stored in the cache under their content
// hash, so rebuilt images with the same kernel share one copy and one
// cached probe result.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../image/cache.js';

export function cachedKernel(kernel: Buffer): string {
  const dir = join(cacheDir(), 'iso-kernels');
  const out = join(dir, `${createHash('sha256').update(kernel).digest('hex').slice(0, 32)}.bzImage`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, kernel);
  renameSync(tmp, out); // never a half-written kernel under the final name
  return out;
}

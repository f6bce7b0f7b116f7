// Host binaries that run inside the image (node, runc): each binary and the
// shared libraries it links against, found with ldd and stored at the exact
// paths the dynamic loader asks for; and the few entries every initramfs
// needs first.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';

/** Parses ldd output into the paths of the libraries (and the loader) a binary needs. */
export function parseLdd(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const arrow = line.match(/=>\s+(\/\S+)/);
    const bare = line.match(/^\s*(\/\S+)\s+\(/);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) out.push(path);
  }
  return out;
}

export function sharedLibraries(binary: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (r.status !== 0) {
    // A static binary makes ldd exit 1 with "not a dynamic executable".
    if (/not a dynamic executable/.test(`${r.stdout}${r.stderr}`)) return [];
    throw new BuildError(`ldd ${binary} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  return parseLdd(r.stdout);
}


/** Files for `binary` at `at` plus every library it loads, dereferenced to plain files. */
export function binaryWithLibraries(binary: string, at: string): CpioEntry[] {
  const entries: CpioEntry[] = [{ path: at, type: 'file', mode: 0o755, data: readFileSync(realpathSync(binary)) }];
  for (const lib of sharedLibraries(binary)) {
    entries.push({ path: lib, type: 'file', mode: 0o755, data: readFileSync(realpathSync(lib)) });
  }
  return entries;
}

/** What the kernel needs before init can mount anything: a console to open, and mount points for /proc and /sys. */
export const EARLY_ROOT: readonly CpioEntry[] = [
  { path: '/dev', type: 'dir', mode: 0o755 },
  { path: '/dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
  { path: '/dev/null', type: 'char', mode: 0o666, major: 1, minor: 3 },
  { path: '/proc', type: 'dir', mode: 0o555 },
  { path: '/sys', type: 'dir', mode: 0o555 },
];

/** The host's iproute2 `ip`: keel-init runs it to make a container's interfaces (busybox's cannot make every link kind, nor one in another namespace). */
export function iprouteBinary(): string {
  for (const p of ['/usr/sbin/ip', '/usr/bin/ip', '/sbin/ip', '/bin/ip']) if (existsSync(p)) return p;
  throw new BuildError('ip (iproute2) was not found on this machine, and runtime.interfaces needs it in the image; install it (apt-get install iproute2)');
}

/** The host's runc, which keel build copies into the image. */
export function runcPath(): string {
  for (const p of ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc']) if (existsSync(p)) return p;
  throw new BuildError('runc was not found on this machine; install it (apt-get install runc) so keel build can put it in the image');
}

// keel build: manifests in (merged in order when there are several), the
// image out; progress on stderr, and what was built on stdout, as text or
// (--json) as data a script can use: each output's size and sha256, each
// image's id.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { ParsedArgs } from '../../api/commands/args.js';
import { UsageError } from '../../api/commands/usage-error.js';
import { removeOwnScratch } from '../image/cache.js';
import { buildImage, type BuildResult, type OutputFormat } from '../image/image.js';
import { hostArch, type Arch } from '../image/arch.js';
import type { Compression } from '../image/initrd.js';
import { BOOT_OUTPUT_NAMES, isDiskOutput } from '../image/outputs.js';
import { silentProgress, terminalProgress } from '../image/sources/progress.js';
import { err, out } from './output.js';
import { requireRootToBuild } from './root.js';

/** SIZE like 512M or 4G (K, M, G, T: powers of 1024; no letter: bytes) in bytes. */
export function parseSize(text: string, what: string, verb: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(text);
  if (!m) throw new UsageError(`${what}: expected a size such as 512M or 4G`, verb);
  return Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
}

/** A file's sha256, read a MiB at a time (disks can be larger than a buffer may be). */
function sha256(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return `sha256:${hash.digest('hex')}`;
}

interface OutputJson {
  path: string;
  role: 'kernel' | 'initrd' | 'cmdline' | 'format';
  bytes: number;
  sha256: string;
}

/** keel build --json: what was built, as data. */
export function buildJson(r: BuildResult, manifests: readonly string[], seconds: number): Record<string, unknown> {
  const file = (path: string, role: OutputJson['role']): OutputJson => ({ path, role, bytes: statSync(path).size, sha256: sha256(path) });
  const cmdlineFile = r.kernel.replace(/-kernel$/, '-cmdline');
  const outputs = [file(r.kernel, 'kernel'), file(r.initrd, 'initrd'), file(cmdlineFile, 'cmdline'), ...r.extra.filter((p) => existsSync(p)).map((p) => file(p, 'format'))];
  // kubevirt's output is an image in the Docker engine, not a file: "kubevirt: TAG (ID), disk at …".
  const loaded = r.extra.flatMap((line) => {
    const m = /^kubevirt: (\S+) \((sha256:[0-9a-f]+)\)/.exec(line);
    return m ? [{ format: 'kubevirt', image: m[1], id: m[2] }] : [];
  });
  return {
    name: r.name,
    arch: r.arch,
    manifests,
    seconds,
    kernel: r.kernelSource,
    cmdline: r.cmdline,
    outputs,
    ...(loaded.length ? { loaded } : {}),
    images: r.images,
    lock: { path: r.lockFile, written: r.lockWritten },
    warnings: r.warnings.map((w) => ({ path: w.field, message: w.message })),
  };
}

function printSummary(r: BuildResult, seconds: number): void {
  // The architecture is said when it is not this machine's, the one a build makes unless told.
  out(`built ${r.name}${r.arch === hostArch() ? '' : ` for ${r.arch}`} in ${seconds.toFixed(1)} s (kernel ${r.kernelSource}, node ${r.node})`);
  out(`  ${r.kernel}\n  ${r.initrd} (${(r.initrdBytes / 2 ** 20).toFixed(1)} MiB, ${r.compression})\n  cmdline: ${r.cmdline || '(empty)'}`);
  for (const f of r.extra) out(`  ${f}`);
  if (r.lockWritten) out(`  wrote ${r.lockFile}`);
}

export async function cmdBuild(args: ParsedArgs): Promise<number> {
  const manifests = args.positionals;
  if (manifests.includes('-')) throw new UsageError('builds from files only (their folder is where relative paths start); save the manifest to a file', 'build');
  const formats = args.strings('format') as OutputFormat[];
  const sizeText = args.string('size');
  // A bare number is MiB, as LinuxKit's --size reads it.
  const size = sizeText === undefined ? undefined : parseSize(/^\d+$/.test(sizeText) ? `${sizeText}M` : sizeText, `--size ${sizeText}`, 'build');
  const tag = args.string('tag');
  if (tag !== undefined && !formats.includes('kubevirt')) throw new UsageError('--tag names the kubevirt image; add --format kubevirt', 'build');
  const disks = BOOT_OUTPUT_NAMES.filter(isDiskOutput);
  if (size !== undefined && !formats.some((f) => (disks as string[]).includes(f))) throw new UsageError(`--size sizes disks; add a disk format (--format ${disks.join(', ')})`, 'build');
  requireRootToBuild();
  const started = Date.now();
  // ctrl-c (or SIGTERM) mid-build: what was half-written into the cache goes, then keel exits as interrupted.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      removeOwnScratch();
      err(`keel: build interrupted (${sig}); nothing half-made is left in the cache`);
      process.exit(130);
    });
  }
  const name = args.string('name');
  const compress = args.string('compress') as Compression | undefined;
  const arch = args.string('arch') as Arch | undefined;
  const progress = args.flag('quiet') ? silentProgress : terminalProgress();
  // The summary, or an error, starts a line of its own, not after the last progress line.
  const r = await buildImage({
    manifestPath: manifests.at(-1)!,
    mergeBefore: manifests.slice(0, -1),
    outDir: args.string('output')!,
    ...(name ? { name } : {}),
    updateLock: args.flag('update-lock'),
    progress,
    formats,
    ...(size !== undefined ? { size } : {}),
    ...(tag !== undefined ? { tag } : {}),
    ...(compress !== undefined ? { compress } : {}),
    ...(arch !== undefined ? { arch } : {}),
  }).finally(() => progress.clear());
  for (const w of r.warnings) err(`${manifests.join(' + ')}: warning: ${w.field}: ${w.message}`);
  for (const w of r.buildWarnings) err(`keel build: warning: ${w}`);
  const seconds = (Date.now() - started) / 1000;
  if (args.flag('json')) out(JSON.stringify(buildJson(r, manifests, Math.round(seconds * 10) / 10), null, 2));
  else printSummary(r, seconds);
  return 0;
}

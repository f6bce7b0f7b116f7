// `keel build`: a manifest in, a bootable kernel + initramfs out.
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entriesOf, fieldLocator, LINK_MODULES, linkKind, loadManifest, manifestWarnings, normalizedJson, type Manifest, type ManifestWarning } from '../../model/index.js';
import { DEFAULT_MODULES, gatedDefaults, INSTANCE_DATA_MODULES, resolveModules } from './modules.js';
import { IMAGE_MANIFEST, IMAGE_NODE, KEEL_LIB, MODPROBE_HELPER, MODULE_LIST } from '../../model/layout.js';
import { modprobeScript } from './modprobe-helper.js';
import { formatModuleList } from '../../model/module-list.js';
import type { CpioEntry } from './cpio.js';
import { compressInitrd, DEFAULT_COMPRESSION, sweepInitrdCache, type Compression } from './initrd.js';
import { imageNode } from './node-binary.js';
import { hostArch, type Arch } from './arch.js';
import { checkArchFormats, foreignAddons, foreignRuntime } from './arch-image.js';
import { initEntries } from './init-loader.js';
import { fileEntries } from './files.js';
import { containerImages, initImages, type ImageContext } from './images.js';
import { volumeEntries } from './volumes.js';
import { assertKernelImage, BuildError } from './kernel.js';
import { checkOutputName, prepareOutputDir } from './output-dir.js';
import { resolveKernelSource } from './kernel-image.js';
import { lockedImages, lockPathFor, readLock, writeLock } from './sources/lock.js';
import { silentProgress, type Progress } from './sources/progress.js';
import { binaryWithLibraries, EARLY_ROOT, iprouteBinary, runcPath } from './node-runtime.js';
import { preflight } from './preflight.js';
import { mergedFieldLocator, mergeManifests, readManifestText } from './merge.js';
import { cacheDir, sweepDeadScratch } from './cache.js';
import { storeDir } from './sources/store.js';
import { writeIsoBios } from './iso.js';
import { writeTar } from './tar.js';
import { BOOT_OUTPUT_NAMES, checkBootOutputs, isDiskOutput, writeBootOutputs, type BootOutput } from './outputs.js';



export interface BuildOptions {
  manifestPath: string;
  outDir: string;
  name?: string;
  /** Folder with keel-init.js, keel.js and keel_sys.node (default: beside this bundle). */
  distDir?: string;
  /** Re-resolve every image reference instead of using keel.lock. */
  updateLock?: boolean;
  /** Extra outputs besides NAME-kernel, NAME-initrd.img and NAME-cmdline (which are always written). */
  formats?: OutputFormat[];
  /** The disks' size in bytes, when they should be bigger than the image needs (--size). */
  size?: number;
  /** The image name the kubevirt output is loaded into the Docker engine as (--tag). */
  tag?: string;
  /** How the initramfs is compressed (--compress; mixed by default). */
  compress?: Compression;
  /** The architecture the image is for (--arch; this machine's by default). */
  arch?: Arch;
  progress?: Progress;
  /** Manifests merged before manifestPath, in order (keel build a.yml b.yml: a.yml here); see merge.ts. */
  mergeBefore?: string[];
}

export const OUTPUT_FORMATS = ['kernel+initrd', 'tar', 'iso-bios', ...BOOT_OUTPUT_NAMES] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const isBootOutput = (f: OutputFormat): f is BootOutput => (BOOT_OUTPUT_NAMES as readonly string[]).includes(f);

export interface BuildResult {
  name: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  initrdBytes: number;
  kernelSource: string;
  /** The lock file beside the manifest, and whether this build wrote it. */
  lockFile: string;
  lockWritten: boolean;
  /** The other outputs asked for: their files, and for kubevirt the image it was loaded as. */
  extra: string[];
  /** What the manifest asks for that keel does differently (manifestWarnings). */
  warnings: ManifestWarning[];
  /** What the build itself had to do differently (no node package, no strip). */
  buildWarnings: string[];
  /** Where the image's node came from, and the initramfs' compression. */
  node: string;
  compression: Compression;
  arch: Arch;
  /** Each image reference of the manifest, what it is, and its id (a directory has none). */
  images: Array<{ ref: string; kind: string; id?: string }>;
}

export function defaultDistDir(): string {
  return process.env.KEEL_DIST ?? dirname(fileURLToPath(import.meta.url));
}

/** keel's own files: /init and keel-init (init-loader.ts), the CLI, the addon. */
function keelFiles(distDir: string, node: string, nodeRunsHere: boolean): CpioEntry[] {
  const need = ['keel.js', 'keel_sys.node'];
  const missing = need.filter((f) => !existsSync(join(distDir, f)));
  if (missing.length) throw new BuildError(`keel's own files are missing from ${distDir}: ${missing.join(', ')}; run "make build"`);
  return [
    ...initEntries(distDir, node, nodeRunsHere),
    ...need.map((f): CpioEntry => ({ path: `${KEEL_LIB}/${f}`, type: 'file', mode: 0o755, data: readFileSync(join(distDir, f)) })),
    { path: `${KEEL_LIB}/package.json`, type: 'file', mode: 0o644, data: Buffer.from('{"type":"module"}\n') },
    { path: '/usr/bin/keel', type: 'file', mode: 0o755, data: Buffer.from(`#!/usr/bin/node\nimport('${KEEL_LIB}/keel.js');\n`) },
  ];
}

/**
 * node-pty for the console's shell and exec: its JavaScript, its package.json
 * and the pty.node addon, at /usr/lib/keel/node_modules/node-pty where the
 * bundle's import finds it. Without it the prompt still works, without sh.
 */
function nodePtyFiles(distDir: string): CpioEntry[] {
  const root = resolve(distDir, '..', 'node_modules', 'node-pty');
  const addon = join(root, 'build', 'Release', 'pty.node');
  if (!existsSync(addon)) return [];
  const at = `${KEEL_LIB}/node_modules/node-pty`;
  const js = readdirSync(join(root, 'lib')).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'));
  return [
    { path: `${at}/package.json`, type: 'file', mode: 0o644, data: readFileSync(join(root, 'package.json')) },
    ...js.map((f): CpioEntry => ({ path: `${at}/lib/${f}`, type: 'file', mode: 0o644, data: readFileSync(join(root, 'lib', f)) })),
    { path: `${at}/build/Release/pty.node`, type: 'file', mode: 0o755, data: readFileSync(addon) },
  ];
}

const SKELETON: CpioEntry[] = [
  ...EARLY_ROOT,
  { path: '/run', type: 'dir', mode: 0o755 },
  { path: '/tmp', type: 'dir', mode: 0o1777 },
  { path: '/root', type: 'dir', mode: 0o700 },
  { path: '/etc', type: 'dir', mode: 0o755 },
  { path: '/var', type: 'dir', mode: 0o755 },
];

function moduleEntries(modulesDir: string, release: string, extra: readonly string[]): CpioEntry[] {
  // keel's own choices wait for their devices; a module the manifest names is loaded before the workload whatever is there.
  const order = resolveModules(modulesDir, [...DEFAULT_MODULES, ...extra], INSTANCE_DATA_MODULES, gatedDefaults(extra));
  const base = `/lib/modules/${release}`;
  const listed = order.map((m) => ({ ...m, path: `${base}/${m.rel}`, deps: m.deps.map((d) => `${base}/${d}`) }));
  const helper = modprobeScript(listed);
  return [
    ...order.map(({ rel }): CpioEntry => ({ path: `${base}/${rel}`, type: 'file', mode: 0o644, data: readFileSync(join(modulesDir, rel)) })),
    // keel-init loads each once the modules it needs are in, several at once; a driver whose device is not there, after
    // boot; a feature module (overlay, bridge) when the kernel first asks for it, through the helper, else after boot.
    { path: MODULE_LIST, type: 'file', mode: 0o644, data: Buffer.from(formatModuleList(listed)) },
    ...(helper ? [{ path: MODPROBE_HELPER, type: 'file', mode: 0o755, data: Buffer.from(helper) } satisfies CpioEntry] : []),
  ];
}


/** busybox-static for the debug shell: /bin/busybox and /bin/sh. */
function busybox(): CpioEntry[] {
  if (!existsSync('/bin/busybox')) throw new BuildError('/bin/busybox was not found; install busybox-static (make deps does)');
  return [
    { path: '/bin/busybox', type: 'file', mode: 0o755, data: readFileSync('/bin/busybox') },
    { path: '/bin/sh', type: 'symlink', target: 'busybox' },
  ];
}

const interfacesOf = (manifest: Manifest) => entriesOf(manifest).flatMap((c) => c.runtime?.interfaces ?? []);

function usesInterfaces(manifest: Manifest): boolean {
  return interfacesOf(manifest).length > 0;
}

/**
 * overlay when a container of the manifest may write to its root (keel mounts an overlay for it): keel knows it will
 * ask, so the module loads at boot beside the rest rather than when the first such container starts. A manifest's
 * readonly is what counts; an image whose label makes it read-only only costs the module's load.
 */
function overlayModule(manifest: Manifest): string[] {
  return entriesOf(manifest).some((c) => c.kind !== 'process' && c.readonly !== true) ? ['overlay'] : [];
}

/** The modules for the link kinds the manifest's runtime sections create (wireguard, vlan, …). */
function interfaceModules(manifest: Manifest): string[] {
  const kinds = interfacesOf(manifest).map(linkKind);
  return [...new Set(kinds.flatMap((k) => (k && LINK_MODULES[k] ? [LINK_MODULES[k]] : [])))];
}

/** This machine's runc, ip (when the manifest makes interfaces), busybox and node, with their libraries. */
function hostRuntime(manifest: Manifest, node: string): CpioEntry[] {
  return [
    ...binaryWithLibraries(runcPath(), '/usr/bin/runc'),
    // Only images whose containers make interfaces carry iproute2 (a little over 1 MiB with its libraries).
    ...(usesInterfaces(manifest) ? binaryWithLibraries(iprouteBinary(), '/usr/sbin/ip') : []),
    ...busybox(),
    ...binaryWithLibraries(node, IMAGE_NODE),
  ];
}

/** Everything in the image's root filesystem, in the order later entries win. */
async function rootEntries(manifest: Manifest, ctx: ImageContext, kernel: { root?: string; release?: string }, distDir: string, node: string): Promise<CpioEntry[]> {
  const arch = ctx.arch ?? hostArch();
  const native = arch === hostArch();
  const init = await initImages(manifest, ctx);
  const volumes = await volumeEntries(manifest, ctx);
  const containers = await containerImages(volumes.manifest, ctx);
  const modules = kernel.root && kernel.release ? moduleEntries(join(kernel.root, 'lib/modules', kernel.release), kernel.release, [...(manifest.kernel?.modules ?? []), ...interfaceModules(manifest), ...overlayModule(manifest)]) : [];
  return [
    ...SKELETON,
    ...init,
    ...modules,
    ...containers.entries,
    ...volumes.entries,
    ...(native ? hostRuntime(manifest, node) : foreignRuntime(arch, node, usesInterfaces(manifest) ? ctx.manifestFile : undefined, ctx.refresh)),
    ...keelFiles(distDir, node, native),
    ...nodePtyFiles(distDir),
    // Another architecture's builds of keel's addon and node-pty's take the place of this machine's.
    ...(native ? [] : foreignAddons(arch, distDir)),
    // The manifest's own files come last so they may add to /etc, but keel's manifest wins.
    ...fileEntries(manifest.files, ctx.baseDir, ctx.manifestFile),
    { path: IMAGE_MANIFEST, type: 'file', mode: 0o644, data: Buffer.from(normalizedJson(containers.manifest)) },
  ];
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const manifestPath = resolve(opts.manifestPath);
  const texts = opts.mergeBefore?.length ? [...opts.mergeBefore, manifestPath].map(readManifestText) : undefined;
  const manifest = texts ? mergeManifests(texts) : loadManifest(manifestPath);
  const name = opts.name ?? basename(manifestPath).replace(/\.(ya?ml|json)$/, '');
  const baseDir = dirname(manifestPath);
  const distDir = opts.distDir ?? defaultDistDir();
  const lockFile = lockPathFor(manifestPath);
  const arch = opts.arch ?? hostArch();
  const bootOutputs = (opts.formats ?? []).filter(isBootOutput);
  checkBootOutputs(bootOutputs, opts);
  checkArchFormats(arch, opts.formats ?? []);
  if (opts.size !== undefined && !bootOutputs.some(isDiskOutput)) throw new BuildError(`--size sizes disks; ask for a disk format too (${BOOT_OUTPUT_NAMES.filter(isDiskOutput).join(', ')})`);
  if (opts.name !== undefined) checkOutputName(opts.name);
  prepareOutputDir(opts.outDir);
  const ctx: ImageContext = {
    baseDir,
    manifestFile: manifestPath,
    locked: opts.updateLock ? {} : lockedImages(readLock(lockFile), arch, lockFile),
    resolved: {},
    progress: opts.progress ?? silentProgress,
    arch,
    refresh: opts.updateLock ?? false,
  };

  sweepCache();
  await preflight(manifest, ctx, texts ? mergedFieldLocator(texts) : fieldLocator(manifestPath));
  const kernel = await resolveKernelSource(manifest.kernel, ctx);
  assertKernelImage(kernel.image, `${manifestPath}: kernel.image (${kernel.source})`, arch);
  const node = imageNode(arch);
  const entries = await rootEntries(manifest, ctx, kernel, distDir, node.path);
  const compression = opts.compress ?? DEFAULT_COMPRESSION;
  ctx.progress.step(`compressing the initramfs (${entries.length} files, ${compression})`);
  const initrd = await initrdOf(entries, compression, kernel.ucode);

  const out = (suffix: string) => join(opts.outDir, `${name}-${suffix}`);
  copyFileSync(kernel.image, out('kernel'));
  writeFileSync(out('initrd.img'), initrd);
  const cmdline = manifest.kernel?.cmdline ?? '';
  writeFileSync(out('cmdline'), cmdline + '\n');
  const extra = await writeFormats(opts, { name, bootOutputs, entries, kernel: kernel.image, initrd, cmdline, progress: ctx.progress, out });
  // The lock is written last: only a build that succeeded records what it used.
  const lockWritten = writeLock(lockFile, ctx.resolved, arch);
  const images = [...(ctx.sources ?? new Map()).entries()].map(([ref, src]) => ({ ref, kind: src.kind, ...(src.lock ? { id: src.lock.id } : {}) }));
  const result = { name, kernel: out('kernel'), initrd: out('initrd.img'), cmdline, initrdBytes: initrd.length, kernelSource: kernel.source, lockFile, lockWritten, extra };
  return { ...result, warnings: manifestWarnings(manifest), buildWarnings: node.warnings, node: node.source, compression, images, arch };
}

/** The --format outputs beside kernel+initrd: the tar, the BIOS ISO, and the disks (outputs.ts); their paths, or what was loaded. */
async function writeFormats(
  opts: BuildOptions,
  b: { name: string; bootOutputs: BootOutput[]; entries: CpioEntry[]; kernel: string; initrd: Buffer; cmdline: string; progress: Progress; out: (suffix: string) => string },
): Promise<string[]> {
  const extra: string[] = [];
  const formats = new Set(opts.formats ?? []);
  const { name, bootOutputs, progress } = b;
  if (formats.has('tar')) {
    // The root filesystem as a tar, with the kernel and cmdline in /boot.
    progress.step(`writing ${name}.tar`);
    writeTar(b.entries, b.kernel, b.cmdline, join(opts.outDir, `${name}.tar`));
    extra.push(join(opts.outDir, `${name}.tar`));
  }
  if (formats.has('iso-bios')) {
    progress.step(`writing ${name}.iso`);
    writeIsoBios({ kernel: b.out('kernel'), initrd: b.out('initrd.img'), cmdline: b.cmdline, out: join(opts.outDir, `${name}.iso`) });
    extra.push(join(opts.outDir, `${name}.iso`));
  }
  if (bootOutputs.length) {
    progress.step(`writing ${bootOutputs.join(', ')}`);
    const payload = { kernel: readFileSync(b.kernel), initrd: b.initrd, cmdline: b.cmdline };
    extra.push(...(await writeBootOutputs(bootOutputs, { name, outDir: opts.outDir, payload, ...(opts.size !== undefined ? { size: opts.size } : {}), ...(opts.tag ? { tag: opts.tag } : {}) })));
  }
  return extra;
}

/** What builds that died (killed, power lost) left half-made in the cache goes first. */
function sweepCache(): void {
  for (const d of [storeDir(), join(cacheDir(), 'kernels'), join(cacheDir(), 'downloads'), join(cacheDir(), 'node'), join(cacheDir(), 'code-cache')]) sweepDeadScratch(d);
  sweepInitrdCache();
}

/** The compressed initramfs; microcode must be an uncompressed cpio at the very start (the kernel looks for it there). */
async function initrdOf(entries: CpioEntry[], compression: Compression, ucode: Buffer | undefined): Promise<Buffer> {
  const packed = await compressInitrd(entries, compression);
  return ucode ? Buffer.concat([ucode, packed]) : packed;
}

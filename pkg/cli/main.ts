// The keel CLI (dist/keel.js). On the host: build, run, validate images.
// Later, inside the VM, the same CLI talks to the running init.
import { parseArgs as parseNodeArgs } from 'node:util';
import { BuildError, DEFAULT_KERNEL_PACKAGE, fetchKernelPackage } from '../image/kernel.js';
import { buildImage, defaultDistDir, OUTPUT_FORMATS, type OutputFormat } from '../image/image.js';
import { COMPRESSIONS, type Compression } from '../image/initrd.js';
import { parseArch } from '../image/arch.js';
import { kernelPackages } from '../image/kernel-image.js';
import { removeOwnScratch } from '../image/cache.js';
import { DEFAULT_INIT_TAG, INIT_DIR, loadInitImage } from '../image/init-image.js';
import { terminalProgress } from '../image/sources/progress.js';
import { jsonSchema, loadManifest, ManifestError, manifestWarnings } from '../../model/index.js';
import { findImage, runVm, type Disk, type NetMode, type RunOptions } from '../run/qemu.js';
import { vmApiSocket } from '../run/vm-dir.js';
import { VERSION } from '../../model/version.js';
import { readFileSync } from 'node:fs';
import { hashPassword } from '../../model/password.js';
import { ApiError, ApiUnreachable } from '../../api/client.js';
import { CONTROL_VERBS, ControlUsage, runControl, type ControlVerb } from '../../api/commands/verbs.js';

const USAGE = `usage: keel COMMAND [options]

  keel build [-o DIR] [--name NAME] [--format FORMAT]... [--size SIZE] [--tag IMAGE]
             [--compress zstd|gzip|lz4] [--arch amd64|arm64] [--update-lock] keel.yml
                                               build NAME-kernel, NAME-initrd.img, NAME-cmdline,
                                               and each FORMAT: tar, iso-bios, iso-efi, raw-bios,
                                               raw-efi, qcow2-bios, qcow2-efi, vhd, vhdx, vmdk,
                                               gcp, aws, kubevirt (loaded into the Docker engine
                                               as --tag IMAGE); --size (e.g. 2G) sizes the disks;
                                               --compress: the initrd's (zstd by default);
                                               --arch: the image's CPU (this machine's by default;
                                               arm64 images are kernel+initrd or tar);
                                               image ids are pinned in keel.lock beside keel.yml
  keel run [--mem MB] [--cpus N] [--accel kvm|tcg] [--uefi] [--arch amd64|arm64] [--no-reboot] [--name VM]
           [--disk PATH[,size=4G][,format=raw|qcow2]]... [--net restricted|user|none]
           [--qmp SOCKET] [--qemu-arg ARG]... NAME|DIR/NAME|IMAGE-FILE
                                               boot a built image under qemu on this terminal:
                                               kernel+initrd, an ISO, or a disk (raw, qcow2, vhd,
                                               vhdx, vmdk); --uefi boots with UEFI firmware (OVMF),
                                               which EFI disks and ISOs get without asking;
                                               an arm64 kernel boots in qemu-system-aarch64 -M virt
                                               with UEFI (AAVMF); --arch says which when unsure
  keel --vm VM VERB ...                        any verb below, against a VM keel run started
  keel validate keel.yml                       check a manifest without building
  keel schema                                  print the manifest's JSON Schema
  keel init-image [--tag TAG] [-o ARCHIVE]     load keel as a container image's init into the Docker engine
                                               (${INIT_DIR}, default tag ${DEFAULT_INIT_TAG}), for COPY --from=
  keel kernel fetch [--arch arm64] [PACKAGE]   download a Debian kernel into the cache
                                               (default ${DEFAULT_KERNEL_PACKAGE}; the arch's own with --arch)
  keel password                                read a password on stdin, print its hash for console.password
  keel version

  On a running keel (socket: --socket PATH, $KEEL_SOCKET, or /run/keel/keel.sock):
  keel ps [--json]                             services, their state, pid, restarts
  keel inspect NAME                            one service in full, with its exit history
  keel logs [-f] [--previous] [-n N] NAME      a service's log (-f follows)
  keel start|stop|restart|reset NAME [--wait]  control a service (reset clears a start limit)
  keel events [-f] [--since ID] [--json]       the event stream, resumable from an event id
  keel stats [--json]                          memory, CPU, pids per service
  keel boot-report                             timings of each boot phase
  keel poweroff | reboot                       shut the machine down cleanly
  keel exec NAME [CMD...]                      a terminal in a running service (sh by default)
  keel console                                 the keel> prompt, remotely
`;

class UsageError extends Error {}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

function positional(args: string[], want: number, what: string): string[] {
  if (args.length !== want) throw new UsageError(`expected ${what}`);
  return args;
}

async function cmdBuild(argv: string[]): Promise<number> {
  const { values, positionals } = parseNodeArgs({
    args: argv,
    options: {
      output: { type: 'string', short: 'o', default: '.' },
      name: { type: 'string' },
      'update-lock': { type: 'boolean', default: false },
      format: { type: 'string', multiple: true },
      size: { type: 'string' },
      tag: { type: 'string' },
      compress: { type: 'string' },
      arch: { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.compress !== undefined && !(COMPRESSIONS as readonly string[]).includes(values.compress)) throw new UsageError(`--compress ${values.compress}: expected one of ${COMPRESSIONS.join(', ')}`);
  const formats = (values.format ?? []).flatMap((f) => f.split(','));
  for (const f of formats) if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format ${f}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
  const [manifestPath] = positional(positionals, 1, 'one manifest file: keel build [-o DIR] [--name NAME] [--update-lock] keel.yml');
  // A bare number is MiB, as LinuxKit's --size reads it.
  const size = values.size === undefined ? undefined : parseSize(/^\d+$/.test(values.size) ? `${values.size}M` : values.size, `--size ${values.size}`);
  if (values.tag !== undefined && !formats.includes('kubevirt')) throw new UsageError('--tag names the kubevirt image; add --format kubevirt');
  const started = Date.now();
  // ctrl-c (or SIGTERM) mid-build: what was half-written into the cache goes, then keel exits as interrupted.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      removeOwnScratch();
      err(`keel: build interrupted (${sig}); nothing half-made is left in the cache`);
      process.exit(130);
    });
  }
  const r = await buildImage({
    manifestPath: manifestPath!,
    outDir: values.output!,
    ...(values.name ? { name: values.name } : {}),
    updateLock: values['update-lock'],
    progress: terminalProgress(),
    formats: formats as OutputFormat[],
    ...(size !== undefined ? { size } : {}),
    ...(values.tag !== undefined ? { tag: values.tag } : {}),
    ...(values.compress !== undefined ? { compress: values.compress as Compression } : {}),
    ...(values.arch !== undefined ? { arch: parseArch(values.arch) } : {}),
  });
  for (const w of r.warnings) err(`${manifestPath}: warning: ${w.field}: ${w.message}`);
  for (const w of r.buildWarnings) err(`keel build: warning: ${w}`);
  out(`built ${r.name} for ${r.arch} in ${((Date.now() - started) / 1000).toFixed(1)} s (kernel ${r.kernelSource}, node ${r.node})`);
  out(`  ${r.kernel}\n  ${r.initrd} (${(r.initrdBytes / 2 ** 20).toFixed(1)} MiB, ${r.compression})\n  cmdline: ${r.cmdline || '(empty)'}`);
  for (const f of r.extra) out(`  ${f}`);
  if (r.lockWritten) out(`  wrote ${r.lockFile}`);
  return 0;
}

async function cmdRun(argv: string[]): Promise<number> {
  const { values, positionals } = parseNodeArgs({
    args: argv,
    options: {
      mem: { type: 'string', default: '1024' },
      cpus: { type: 'string', default: '1' },
      accel: { type: 'string', default: 'auto' },
      'no-reboot': { type: 'boolean', default: false },
      qmp: { type: 'string' },
      'qemu-arg': { type: 'string', multiple: true },
      name: { type: 'string' },
      disk: { type: 'string', multiple: true },
      net: { type: 'string', default: 'restricted' },
      uefi: { type: 'boolean', default: false },
      arch: { type: 'string' },
    },
    allowPositionals: true,
  });
  const [target] = positional(positionals, 1, 'one image: keel run [options] NAME');
  if (!['restricted', 'user', 'none'].includes(values.net!)) throw new UsageError(`--net ${values.net}: expected restricted (the default: the VM reaches only the host), user (anywhere the host reaches) or none`);
  const mem = Number(values.mem);
  const cpus = Number(values.cpus);
  if (!Number.isInteger(mem) || mem < 128) throw new UsageError(`--mem ${values.mem}: expected MiB, at least 128`);
  if (!Number.isInteger(cpus) || cpus < 1) throw new UsageError(`--cpus ${values.cpus}: expected a whole number of at least 1`);
  if (!['auto', 'kvm', 'tcg'].includes(values.accel!)) throw new UsageError(`--accel ${values.accel}: expected kvm, tcg or auto`);
  const opts: RunOptions = {
    memMb: mem,
    cpus,
    accel: values.accel as RunOptions['accel'],
    noReboot: values['no-reboot']!,
    ...(values.qmp ? { qmp: values.qmp } : {}),
    ...(values['qemu-arg'] ? { extraArgs: values['qemu-arg'] } : {}),
    ...(values.name ? { name: values.name } : {}),
    disks: (values.disk ?? []).map(parseDisk),
    net: values.net as NetMode,
    uefi: values.uefi!,
    ...(values.arch !== undefined ? { arch: parseArch(values.arch) } : {}),
  };
  return runVm(findImage(target!), opts, err);
}

/** SIZE like 512M or 4G (K, M, G, T: powers of 1024; no letter: bytes) in bytes. */
function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(text);
  if (!m) throw new UsageError(`${what}: expected a size such as 512M or 4G`);
  return Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
}

/** --disk PATH[,size=SIZE][,format=raw|qcow2]: SIZE like 512M or 4G. */
function parseDisk(spec: string): Disk {
  const [path, ...opts] = spec.split(',');
  if (!path) throw new UsageError(`--disk ${spec}: expected PATH[,size=SIZE][,format=raw|qcow2]`);
  const disk: Disk = { path, format: 'raw' };
  for (const o of opts) {
    const [k, v = ''] = o.split('=');
    if (k === 'format' && (v === 'raw' || v === 'qcow2')) disk.format = v;
    else if (k === 'size' && /^\d+[KMGT]?$/i.test(v)) disk.size = parseSize(v, `--disk ${spec}`);
    else throw new UsageError(`--disk ${spec}: "${o}" is not size=N[K|M|G|T] or format=raw|qcow2`);
  }
  return disk;
}

function cmdValidate(argv: string[]): number {
  const [file] = positional(argv, 1, 'one manifest file: keel validate keel.yml');
  const manifest = loadManifest(file!);
  for (const w of manifestWarnings(manifest)) err(`${file}: warning: ${w.field}: ${w.message}`);
  out(`${file}: valid`);
  return 0;
}

async function dispatch(argv: string[]): Promise<number> {
  // keel --vm NAME VERB …: the control verbs, against a VM that keel run started.
  if (argv[0] === '--vm' || argv[0]?.startsWith('--vm=')) {
    const name = argv[0] === '--vm' ? argv[1] : argv[0].slice('--vm='.length);
    const rest = argv.slice(argv[0] === '--vm' ? 2 : 1);
    if (!name || !(CONTROL_VERBS as readonly string[]).includes(rest[0] ?? '')) throw new UsageError(`expected: keel --vm NAME ${CONTROL_VERBS.join('|')} …`);
    process.env.KEEL_SOCKET = vmApiSocket(name);
    return runControl(rest[0] as ControlVerb, rest.slice(1));
  }
  const [command, ...rest] = argv;
  switch (command) {
    case 'build':
      return cmdBuild(rest);
    case 'run':
      return cmdRun(rest);
    case 'validate':
      return cmdValidate(rest);
    case 'password': {
      const text = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      if (text === '') throw new UsageError('keel password reads the password on standard input (e.g. printf %s "$PW" | keel password)');
      out(hashPassword(text));
      return 0;
    }
    case 'schema':
      out(JSON.stringify(jsonSchema(), null, 2));
      return 0;
    case 'kernel': {
      const { values, positionals } = parseNodeArgs({ args: rest, options: { arch: { type: 'string' } }, allowPositionals: true });
      if (positionals[0] !== 'fetch' || positionals.length > 2) throw new UsageError('expected: keel kernel fetch [--arch amd64|arm64] [PACKAGE]');
      const packages = kernelPackages(values.arch !== undefined ? parseArch(values.arch) : undefined);
      const k = fetchKernelPackage(positionals[1] ?? packages.fallback, packages.apt);
      out(`${k.source}: ${k.image}`);
      return 0;
    }
    case 'version':
    case '--version':
      out(`keel ${VERSION}`);
      return 0;
    default:
      if ((CONTROL_VERBS as readonly string[]).includes(command ?? '')) return runControl(command as ControlVerb, rest);
      return dispatchRest(command, rest);
  }
}

/** keel init-image: /opt/keel as an image in the Docker engine, for COPY --from= into any image. */
function cmdInitImage(argv: string[]): number {
  const { values, positionals } = parseNodeArgs({ args: argv, options: { tag: { type: 'string', short: 't' }, output: { type: 'string', short: 'o' } }, allowPositionals: true });
  positional(positionals, 0, 'no arguments besides --tag and -o');
  const tag = values.tag ?? DEFAULT_INIT_TAG;
  const r = loadInitImage(defaultDistDir(), tag, values.output);
  out(`loaded ${tag} (${r.id}; ${(r.layerBytes / 2 ** 20).toFixed(1)} MiB in ${INIT_DIR})${values.output ? `; archive ${r.archive}` : ''}`);
  return 0;
}

function dispatchRest(command: string | undefined, rest: string[]): number {
  switch (command) {
    case 'init-image':
      return cmdInitImage(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    if (e instanceof ManifestError) err(e.message);
    else if (e instanceof BuildError) err(`keel: ${e.message}`);
    else if (e instanceof ApiUnreachable) {
      err(`keel: ${e.message}`);
      return 3;
    } else if (e instanceof ApiError) {
      err(`keel: ${e.message}`);
      return 1;
    } else if (e instanceof UsageError || e instanceof ControlUsage || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`keel: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    else err(`keel: internal error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

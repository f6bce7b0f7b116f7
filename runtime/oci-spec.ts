// A manifest entry plus its image's config become an OCI runtime config.json.
// Precedence is LinuxKit's: image config < org.mobyproject.config label <
// manifest. Where all three are silent the defaults are Docker's (its
// capability set, masked and read-only /proc paths, a tmpfs /dev) and
// keel's own: its seccomp filter (seccomp-default.ts) and no-new-privileges.
import { readFileSync } from 'node:fs';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../model/capabilities.js';
import type { ContainerBase, ImageLabel } from '../model/index.js';
import { imageLabelSpec } from '../model/container.js';
import { formatPath, INVALID, Issues, show } from '../model/schema.js';
import { RLIM_INFINITY } from '../model/strings.js';
import { DEFAULT_CGROUP_PARENT, DEFAULT_PATH } from '../model/layout.js';
import type { OciMount, OciSeccomp, OciSpec, RuntimeConfig } from './oci-types.js';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_GROUPS, EPERM } from './seccomp-default.js';

export const OCI_VERSION = '1.0.2';
export const LABEL = 'org.mobyproject.config';

/** What an image says about how to run it (Docker's image config, the parts that matter here). */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
}

export class SpecError extends Error {
  override name = 'SpecError';
}

export const DEFAULT_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Parses an image's org.mobyproject.config label with the manifest's own rules. */
export function parseLabel(image: ImageConfig, imageName: string): ImageLabel {
  const text = image.labels?.[LABEL];
  if (!text) return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new SpecError(`image ${imageName}: label ${LABEL} is not valid JSON: ${(err as Error).message}`);
  }
  const issues = new Issues();
  const label = imageLabelSpec.parse(data, [], issues);
  if (label === INVALID || issues.list.length) {
    throw new SpecError(`image ${imageName}: label ${LABEL}: ${issues.list.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
  }
  return label;
}

/** The capabilities in the CapBnd line of a /proc/PID/status (all of them if it has none). */
export function boundingCapabilities(status: string): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return [...ALL_CAPABILITIES];
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n); // ALL_CAPABILITIES is in bit order
}

let keelBounding: string[] | undefined;

/**
 * The capabilities keel itself may hand on: its bounding set. runc cannot
 * grant one keel lacks (capset fails and the container does not start), and
 * keel may run where some are dropped (in a container, on a hardened host).
 */
function keelCapabilities(): string[] {
  if (!keelBounding) {
    try {
      keelBounding = boundingCapabilities(readFileSync('/proc/self/status', 'utf8'));
    } catch {
      keelBounding = [...ALL_CAPABILITIES];
    }
  }
  return keelBounding;
}

/** Capabilities as the manifest parsed them (canonical names, or the words all and none) to the sorted set; "all" is all keel has. */
function capabilitySet(names: readonly string[]): string[] {
  if (names.length === 1 && names[0] === 'all') return [...keelCapabilities()];
  if (names.length === 1 && names[0] === 'none') return [];
  return [...new Set(names)].sort();
}

/** LinuxKit's namespace words: host (or root) joins ours, new/none makes one, a path joins that one. */
function namespace(type: string, value: string | undefined, fallback: 'host' | 'new'): { type: string; path?: string } | undefined {
  const v = value ?? fallback;
  if (v === 'host' || v === 'root') return undefined;
  if (v === 'new' || v === 'none') return { type };
  return { type, path: v };
}

function defaultMounts(readonly: boolean, privileged: boolean, ipcPrivate: boolean): OciMount[] {
  const ro = readonly ? ['ro'] : [];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k', ...ro] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    ...(ipcPrivate ? [{ destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] }] : []),
    // Like Docker, /sys is read-only unless the container is privileged (CAP_SYS_ADMIN).
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...(privileged && !readonly ? [] : ['ro'])] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...(privileged && !readonly ? [] : ['ro'])] },
  ];
}

const MOUNT_TYPE_DEFAULT_DEST: Record<string, string> = { proc: '/proc', devpts: '/dev/pts', sysfs: '/sys', cgroup: '/sys/fs/cgroup', cgroup2: '/sys/fs/cgroup', mqueue: '/dev/mqueue' };

/**
 * Fills in LinuxKit's mount shorthands: a missing type from the source, a
 * missing destination from the type. A relative destination is read from the
 * container's root ("/" prepended, as runc does) unless `keepRelative` (the
 * runtime section's mounts, which the host reads from the container's root
 * filesystem).
 */
export function completeMount(m: { type?: string; source?: string; destination?: string; options?: string[] }, where: string, keepRelative = false): OciMount {
  let type = m.type;
  if (!type && m.source && m.source in MOUNT_TYPE_DEFAULT_DEST) type = m.source;
  if (!type && m.destination === '/dev') type = 'tmpfs';
  if (!type) throw new SpecError(`${where}: the mount for ${m.destination ?? '(no destination)'} needs a type`);
  const given = m.destination ?? MOUNT_TYPE_DEFAULT_DEST[type];
  if (!given) throw new SpecError(`${where}: the ${type} mount needs a destination`);
  const destination = given.startsWith('/') || keepRelative ? given : `/${given}`;
  return { destination, type, source: m.source ?? type, options: m.options ?? [] };
}

/** A cgroup path from the root of the cgroup tree: LinuxKit's relative ones (podruntime/web) start there too. */
function absoluteCgroup(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

/** The architectures a filter covers: the machine's own and the 32-bit ones its kernel also runs, so that no ABI goes around it. */
const SECCOMP_ARCHES: Partial<Record<NodeJS.Architecture, NonNullable<OciSeccomp['architectures']>>> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

/** keel's default filter (seccomp-default.ts) for a container with these effective capabilities. */
export function defaultSeccomp(caps: readonly string[]): OciSeccomp {
  const has = new Set(caps);
  const syscalls: NonNullable<OciSeccomp['syscalls']> = DEFAULT_GROUPS.filter((g) => !g.unless?.some((c) => has.has(c))).map((g) => ({ names: g.names, action: 'SCMP_ACT_ERRNO', errnoRet: g.errno ?? EPERM }));
  if (!has.has('CAP_SYS_ADMIN')) {
    // clone(2) makes namespaces through its flags (argument 0; 1 on s390x): one rule per flag, as rules are or-ed and a rule's arguments and-ed.
    const index = process.arch === 's390x' ? 1 : 0;
    for (const flag of Object.values(CLONE_NAMESPACE_FLAGS)) syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }] });
  }
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: SECCOMP_ARCHES[process.arch] ?? [], syscalls };
}

/** The entry's seccomp choice (over its label's): keel's default, none, or the profile the manifest named. */
function seccompFor(choice: ImageLabel['seccomp'], caps: readonly string[], where: string): OciSeccomp | undefined {
  if (choice === undefined || choice === 'default') return defaultSeccomp(caps);
  if (choice === 'unconfined') return undefined;
  if (typeof choice === 'string') {
    throw new SpecError(`${where}: seccomp ${show(choice)}: a profile file is read when the manifest is loaded, relative to it; an image label gives default, unconfined, or the profile itself`);
  }
  return choice;
}

export interface SpecInputs {
  entry: ContainerBase;
  image: ImageConfig;
  /** Absolute path of the root filesystem runc will use. */
  rootfs: string;
  /** uid/gid for a container name used as an id. */
  idOf: (name: string) => number | undefined;
  /** Added by keel itself (e.g. a service's notify socket), after everything the manifest says. */
  extra?: ExtraConfig;
  /** The cgroup a container without cgroupsPath gets its own under (default /keel). */
  cgroupParent?: string;
}

export interface ExtraConfig {
  mounts?: OciMount[];
  env?: string[];
}

export function buildOciSpec({ entry, image, rootfs, idOf, extra, cgroupParent = DEFAULT_CGROUP_PARENT }: SpecInputs): { spec: OciSpec; runtime: RuntimeConfig } {
  const label = parseLabel(image, entry.image ?? entry.name);
  const where = entry.name;
  const fromEntry: ImageLabel = entry;
  const pick = <K extends keyof ImageLabel>(k: K): ImageLabel[K] => fromEntry[k] ?? label[k];

  const args = entry.command ?? label.command ?? [...(image.entrypoint ?? []), ...(image.cmd ?? [])];
  if (args.length === 0) throw new SpecError(`${where}: no command: the image has no Entrypoint or Cmd, so give "command:"`);
  const env = [...(entry.env ?? label.env ?? image.env ?? [`PATH=${DEFAULT_PATH}`]), ...(extra?.env ?? [])];
  const cwd = entry.cwd || label.cwd || image.workingDir || '/';
  const readonly = pick('readonly') ?? false;

  // capabilities replaces; capabilities.add adds to the label's set, or to Docker's defaults when the label has none.
  const base = label.capabilities ? capabilitySet(label.capabilities) : [...DEFAULT_CAPABILITIES];
  const added = entry['capabilities.add'] ?? [];
  const caps = entry.capabilities ? capabilitySet(entry.capabilities) : [...new Set([...base, ...capabilitySet(added)])].sort();
  const ambient = capabilitySet(pick('ambient') ?? []);
  const bounding = [...new Set([...caps, ...ambient])].sort();
  const privileged = caps.includes('CAP_SYS_ADMIN');
  const seccomp = seccompFor(pick('seccomp'), caps, where);

  const net = namespace('network', pick('net'), 'host');
  const ipc = namespace('ipc', pick('ipc'), 'host');
  const uts = namespace('uts', pick('uts'), 'host');
  const pid = namespace('pid', pick('pid'), 'new');
  const user = namespace('user', pick('userns'), 'host');
  const namespaces = [pid, net, ipc, uts, user, { type: 'mount' }, { type: 'cgroup' }].filter((n): n is { type: string; path?: string } => n !== undefined);

  const hostname = pick('hostname');
  if (hostname && (!uts || uts.path)) throw new SpecError(`${where}: hostname needs its own UTS namespace; add "uts: new"`);
  const sysctl = pick('sysctl') ?? {};
  if (Object.keys(sysctl).some((k) => k.startsWith('net.')) && !net) {
    throw new SpecError(`${where}: net.* sysctls would change the host's network namespace; add "net: new" (or "none")`);
  }

  // Mounts by destination: defaults, then tmpfs, binds and full mounts, each replacing what it overlaps.
  const mounts = new Map<string, OciMount>();
  for (const m of defaultMounts(readonly, privileged, ipc !== undefined && !ipc.path)) mounts.set(m.destination, m);
  for (const t of pick('tmpfs') ?? []) mounts.set(t.destination, { destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: t.options });
  const binds = entry.binds ?? [...(label.binds ?? []), ...(entry['binds.add'] ?? [])];
  for (const b of binds) mounts.set(b.destination, { destination: b.destination, type: 'bind', source: b.source, options: b.options });
  for (const m of pick('mounts') ?? []) {
    const full = completeMount(m, where);
    mounts.set(full.destination, full);
  }
  for (const m of extra?.mounts ?? []) mounts.set(m.destination, m);
  // Sorted so that a parent (/dev) is mounted before its children (/dev/pts).
  const mountList = [...mounts.values()].sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0));

  const numericId = (v: number | string | undefined, what: string): number => {
    if (v === undefined || v === 'root') return 0;
    if (typeof v === 'number') return v;
    const n = idOf(v);
    if (n === undefined) throw new SpecError(`${where}: ${what} "${v}" is not a container in this manifest`);
    return n;
  };

  const rlimits = pick('rlimits') ?? [];

  const resources = pick('resources') ?? {};
  const devices = pick('devices') ?? [];
  // Deny-all first, as Docker's: then the manifest's own rules (LinuxKit's resources.devices), then what `devices` allows.
  const deviceRules: Array<Record<string, unknown>> = [{ allow: false, access: 'rwm' }, ...(resources.devices ?? [])];
  const linuxDevices: Array<Record<string, unknown>> = [];
  for (const d of devices) {
    if (d.path === 'all') {
      deviceRules.push({ allow: true, type: d.type, access: 'rwm' });
      continue;
    }
    linuxDevices.push({ path: d.path, type: d.type, major: d.major, minor: d.minor, ...(d.mode !== undefined ? { fileMode: d.mode } : {}) });
    deviceRules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: 'rwm' });
  }
  // kernel and kernelTCP are taken for LinuxKit's manifests and not passed on (model/warnings.ts says so).
  const { kernel: _kernel, kernelTCP: _kernelTCP, ...memoryLimits } = resources.memory ?? {};
  const memory = resources.memory ? memoryLimits : undefined;
  const disableOOMKiller = pick('disableOOMKiller');
  const memoryWithOom = disableOOMKiller !== undefined ? { ...(memory ?? {}), disableOOMKiller } : memory;

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: {
        uid: numericId(pick('uid'), 'uid'),
        gid: numericId(pick('gid'), 'gid'),
        ...((pick('additionalGids') ?? []).length ? { additionalGids: (pick('additionalGids') ?? []).map((g: number | string) => numericId(g, 'additionalGids')) } : {}),
      },
      args,
      env,
      cwd,
      capabilities: { bounding, effective: caps, permitted: bounding, inheritable: ambient, ambient },
      rlimits,
      noNewPrivileges: pick('noNewPrivileges') ?? true,
      ...(pick('oomScoreAdj') !== undefined ? { oomScoreAdj: pick('oomScoreAdj') } : {}),
    },
    root: { path: rootfs, readonly },
    ...(hostname ? { hostname } : {}),
    mounts: mountList,
    annotations: pick('annotations') ?? {},
    linux: {
      namespaces,
      ...(pick('uidMappings') ? { uidMappings: pick('uidMappings') } : {}),
      ...(pick('gidMappings') ? { gidMappings: pick('gidMappings') } : {}),
      sysctl,
      resources: {
        devices: deviceRules,
        ...(memoryWithOom ? { memory: memoryWithOom } : {}),
        ...(resources.cpu ? { cpu: resources.cpu } : {}),
        ...(resources.pids ? { pids: resources.pids } : {}),
        ...(resources.blockIO ? { blockIO: resources.blockIO } : {}),
        ...(resources.network ? { network: resources.network } : {}),
      },
      cgroupsPath: absoluteCgroup(pick('cgroupsPath') ?? `${cgroupParent}/${entry.name}`),
      devices: linuxDevices,
      maskedPaths: pick('maskedPaths') ?? (privileged ? [] : DEFAULT_MASKED_PATHS),
      readonlyPaths: pick('readonlyPaths') ?? (privileged ? [] : DEFAULT_READONLY_PATHS),
      ...(pick('rootfsPropagation') ? { rootfsPropagation: pick('rootfsPropagation') } : {}),
      ...(seccomp ? { seccomp } : {}),
    },
  };

  // The runtime section merges field by field, manifest over label.
  const rt = entry.runtime ?? {};
  const lrt = label.runtime ?? {};
  const runtime: RuntimeConfig = {
    mkdir: rt.mkdir ?? lrt.mkdir ?? [],
    mounts: (rt.mounts ?? lrt.mounts ?? []).map((m) => completeMount(m, `${where}: runtime.mounts`, true)),
    cgroups: rt.cgroups ?? lrt.cgroups ?? [],
    interfaces: rt.interfaces ?? lrt.interfaces ?? [],
    bindNS: rt.bindNS ?? lrt.bindNS ?? {},
  };
  return { spec, runtime };
}

/** config.json text. "unlimited" rlimits become 2^64-1, which JSON numbers from a double cannot spell. */
export function specJson(spec: OciSpec): string {
  const MARK = '"__keel_rlim_infinity__"';
  const text = JSON.stringify(spec, (key, value: unknown) => ((key === 'soft' || key === 'hard') && value === RLIM_INFINITY ? '__keel_rlim_infinity__' : value), 2);
  return text.split(MARK).join('18446744073709551615') + '\n';
}

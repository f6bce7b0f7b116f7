// One container entry of onboot, services or onshutdown: LinuxKit's per-image
// fields (the same set an image may carry in its org.mobyproject.config
// label) plus keel's extensions. Compact forms (binds, limits) are parsed
// here; the runtime merges image config < label < manifest and fills in the
// defaults.
import { duration } from './duration.js';
import { eitherKind, kindField } from './process.js';
import { absPath, bind, capability, envVar, rlimit, size, tmpfs } from './fields.js';
import { linkKind } from './link-kinds.js';
import { pkgReferenceProblem } from './warnings.js';
import { seccomp } from './seccomp.js';
import {
  bool,
  checkedString,
  either,
  field,
  fileMode,
  int,
  list,
  object,
  oneOf,
  refine,
  str,
  stringMap,
  transform,
  unsupported,
  type Spec,
} from './schema.js';

/** "host", "new", "none" (net only: a namespace with just loopback), or a namespace path to join. */
const namespace = (allowNone: boolean) =>
  checkedString(`host, new${allowNone ? ', none' : ''} or a namespace path such as /run/netns/foo`, (s) =>
    s === 'host' || s === 'new' || s === 'root' || (allowNone && s === 'none') || s.startsWith('/') ? undefined : 'not a namespace',
  );

/** A uid/gid: a number, "root", or the name of another container in the manifest. */
const id = either(int({ min: 0 }), str({ pattern: /^[a-z0-9][a-z0-9_.-]*$/, patternHint: 'a container name' }), 'a number, "root" or a container name');

/**
 * A mount's destination. LinuxKit takes relative ones too: in a container's
 * mounts they are read from its root ("/" is prepended, as runc does), in
 * the runtime section from the container's root filesystem on the host.
 */
const mountPath = checkedString('a path such as /data (or relative, from the container\'s root)', (s) => (s === '' ? 'empty' : s.split('/').includes('..') ? 'must not contain ".."' : undefined));

const IDMAPPED_MOUNT = 'an idmapped mount needs runc 1.2 or later, and keel runs containers with the runc its images carry (Debian 12\'s, 1.1); remove it, or map the whole container with userns: new and uidMappings';

export const mountSpec = object({
  type: field(str({ nonEmpty: true })),
  source: field(str()),
  destination: field(mountPath),
  options: field(list(str())),
  uidmappings: unsupported(IDMAPPED_MOUNT),
  gidmappings: unsupported(IDMAPPED_MOUNT),
});

const deviceSpec = object({
  path: field(str({ nonEmpty: true }), { required: true, description: 'Device path in the container, or "all" with type to allow a whole class' }),
  type: field(oneOf(['c', 'b', 'u', 'p', 'a'] as const), { required: true }),
  major: field(int(), { default: 0 }),
  minor: field(int(), { default: 0 }),
  mode: field(fileMode()),
});

const throttleDevice = object({ major: field(int({ min: 0 }), { required: true }), minor: field(int({ min: 0 }), { required: true }), rate: field(int({ min: 0 }), { required: true }) });
const weightDevice = object({ major: field(int({ min: 0 }), { required: true }), minor: field(int({ min: 0 }), { required: true }), weight: field(int({ min: 10, max: 1000 })), leafWeight: field(int({ min: 10, max: 1000 })) });

const blockIOFields = object({
  weight: field(int({ min: 10, max: 1000 })),
  leafWeight: field(int({ min: 10, max: 1000 })),
  weightDevice: field(list(weightDevice)),
  throttleReadBpsDevice: field(list(throttleDevice)),
  throttleWriteBpsDevice: field(list(throttleDevice)),
  throttleReadIOPSDevice: field(list(throttleDevice)),
  throttleWriteIOPSDevice: field(list(throttleDevice)),
});

/** A device cgroup rule, as OCI's linux.resources.devices: allow or deny `access` to a class or one device; a missing major or minor is any, a missing allow a deny (Go's zero value, as LinuxKit reads it). */
const deviceRule = object({
  allow: field(bool(), { default: false }),
  type: field(oneOf(['a', 'c', 'b'] as const)),
  major: field(int({ min: -1 })),
  minor: field(int({ min: -1 })),
  access: field(checkedString('some of r, w and m, such as rwm', (s) => (/^[rwm]{1,3}$/.test(s) && new Set(s).size === s.length ? undefined : 'not some of r, w and m'))),
});

/**
 * OCI's linux.resources, in LinuxKit's spelling where it has its own:
 * LinuxKit's schema writes `blockio` (Go's JSON decoding then matches OCI's
 * blockIO whatever the case), keel's reference `blockIO`; either is taken.
 */
export const resourcesSpec = transform(
  refine(
    object({
      devices: field(list(deviceRule), { description: 'Device cgroup rules, after keel\'s deny-all and before the rules `devices` adds' }),
      memory: field(
        object({
          limit: field(size()),
          reservation: field(size()),
          swap: field(size()),
          kernel: field(size(), { description: 'Taken for LinuxKit manifests and ignored: the kernel has no separate kernel memory limit (it counts toward limit)' }),
          kernelTCP: field(size(), { description: 'Taken for LinuxKit manifests and ignored, as kernel' }),
          swappiness: field(int({ min: 0, max: 100 })),
          disableOOMKiller: field(bool()),
        }),
      ),
      cpu: field(
        object({
          shares: field(int({ min: 2 })),
          quota: field(int({ min: -1 })),
          period: field(int({ min: 1000 })),
          cpus: field(str()),
          mems: field(str()),
          realtimeRuntime: field(int()),
          realtimePeriod: field(int({ min: 0 })),
        }),
      ),
      pids: field(object({ limit: field(int({ min: -1 }), { required: true }) })),
      blockIO: field(blockIOFields),
      blockio: field(blockIOFields, { description: "LinuxKit's spelling of blockIO" }),
      hugepageLimits: unsupported("keel's VMs do not enable the hugetlb cgroup controller, so runc could not set this limit and the container would not start (LinuxKit's own schema and its decoding disagree on pageSize, so no LinuxKit manifest can use it either); remove it"),
      network: field(
        object({
          classID: field(int({ min: 0 })),
          priorities: field(list(object({ name: field(str({ nonEmpty: true }), { required: true }), priority: field(int({ min: 0 }), { required: true }) }))),
        }),
        { description: 'net_cls and net_prio: cgroup v1 only' },
      ),
    }),
    (r) => (r.blockIO && r.blockio ? 'both blockIO and blockio (LinuxKit\'s spelling of the same): keep one' : undefined),
  ),
  ({ blockio, ...r }) => (blockio ? { ...r, blockIO: blockio } : r),
  (r) => r,
);

/** A link type as `ip link add … type KIND` names it: veth, wireguard, bridge, dummy, vlan, macvlan, … */
const linkType = checkedString('a link type such as veth, wireguard, bridge, dummy, vlan or macvlan', (s) => (/^[a-z][a-z0-9_]{0,31}$/.test(s) ? undefined : 'not a link type'));

const interfaceSpec = refine(
  object({
    name: field(str({ nonEmpty: true }), { description: 'Name of the interface in the container' }),
    add: field(linkType, { description: 'Create an interface of this type (ip link add semantics); without it, an existing interface is moved in' }),
    peer: field(str({ nonEmpty: true }), { description: 'veth: the name of the peer left in the root namespace (a peer alone means add: veth)' }),
    createInRoot: field(bool(), { default: false, description: 'Create it in the root namespace, then move it in (a wireguard interface keeps its socket in the root namespace); veth pairs are always made so' }),
    link: field(str({ nonEmpty: true }), { description: 'The parent device of a vlan, macvlan or ipvlan (ip link add … link DEV; keel extension)' }),
    options: field(list(str()), { description: 'What `ip link add … type KIND` takes after the kind, e.g. [id, "10"] for a vlan (keel extension)' }),
  }),
  (i) => (linkKind(i) === 'veth' && !i.peer ? 'a veth interface needs a peer' : undefined),
);

const bindNsSpec = object({
  cgroup: field(absPath),
  ipc: field(absPath),
  mnt: field(absPath),
  net: field(absPath),
  pid: field(absPath),
  user: field(absPath),
  uts: field(absPath),
});

export const runtimeSpec = object({
  mkdir: field(list(mountPath), { description: "Directories to create on the host before the container starts (relative ones in the container's root filesystem)" }),
  mounts: field(list(mountSpec), { description: 'Mounts made on the host before the container starts' }),
  cgroups: field(list(str({ nonEmpty: true })), { description: 'cgroups to create before the container starts' }),
  interfaces: field(list(interfaceSpec), { description: 'Network interfaces to create or move into the container' }),
  bindNS: field(bindNsSpec, { description: "Bind the container's namespaces to these paths, for others to join" }),
  namespace: unsupported('runtime.namespace names a containerd namespace; keel runs containers with runc directly, so remove it'),
});

const idMapping = object({ containerID: field(int({ min: 0 }), { required: true }), hostID: field(int({ min: 0 }), { required: true }), size: field(int({ min: 1 }), { required: true }) });

/** Fields an image label may set as well as the manifest. */
export const imageConfigFields = {
  capabilities: field(list(capability), { description: 'Capabilities the process has (replaces the default set); ["all"] or ["none"]' }),
  'capabilities.add': field(list(capability), { description: 'Capabilities added to those of the image label' }),
  ambient: field(list(capability)),
  mounts: field(list(mountSpec)),
  binds: field(list(bind)),
  'binds.add': field(list(bind)),
  devices: field(list(deviceSpec)),
  tmpfs: field(list(tmpfs)),
  command: field(list(str())),
  env: field(list(envVar)),
  cwd: field(absPath),
  net: field(namespace(true)),
  pid: field(namespace(false)),
  ipc: field(namespace(false)),
  uts: field(namespace(false)),
  userns: field(namespace(false)),
  hostname: field(str({ nonEmpty: true })),
  readonly: field(bool()),
  maskedPaths: field(list(absPath)),
  readonlyPaths: field(list(absPath)),
  uid: field(id),
  gid: field(id),
  additionalGids: field(list(id)),
  noNewPrivileges: field(bool(), { description: 'Default true: no process in the container gains privileges through exec (setuid, file capabilities); false allows it' }),
  seccomp: field(seccomp, { description: "default (keel's filter, relaxed by the entry's capabilities), unconfined (none), or a profile file in OCI form, relative to the manifest" }),
  oomScoreAdj: field(int({ min: -1000, max: 1000 })),
  disableOOMKiller: field(bool()),
  rootfsPropagation: field(oneOf(['shared', 'slave', 'private', 'unbindable'] as const)),
  // LinuxKit writes these relative (podruntime/web): keel reads them from the root of the cgroup tree.
  cgroupsPath: field(checkedString('a cgroup path such as /keel/web or podruntime/web', (s) => (/^\/*$/.test(s) ? 'the root cgroup is the whole machine\'s; name a cgroup of its own' : s.split('/').includes('..') ? 'must not contain ".."' : undefined))),
  resources: field(resourcesSpec),
  sysctl: field(stringMap()),
  rlimits: field(list(rlimit)),
  uidMappings: field(list(idMapping)),
  gidMappings: field(list(idMapping)),
  annotations: field(stringMap()),
  runtime: field(runtimeSpec),
};

export const imageLabelSpec = object(imageConfigFields);

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** An image: a path or a reference; never LinuxKit's "@pkg:" source packages, which keel cannot build. */
export const imageRef = checkedString('an image reference such as alpine:3.20, or a path', (s) => (s === '' ? 'empty' : (pkgReferenceProblem(s) ?? imageTextProblem(s))));

/**
 * What no image can be, path or reference, said at validation rather than
 * after a build's work: white space at either end (a paste that took a space
 * along), or capitals in what can only be a reference (no "/" and not
 * starting with "."), where repository names are lower case.
 */
function imageTextProblem(s: string): string | undefined {
  if (s.trim() !== s) return `white space at its ${/^\s/.test(s) ? 'start' : 'end'}; remove it`;
  const repo = s.split(/[:@]/)[0]!;
  if (!s.includes('/') && !s.startsWith('.') && repo !== repo.toLowerCase()) return `an image reference's name is lower case (${JSON.stringify(repo.toLowerCase())}); a folder here is written ./${s}`;
  return undefined;
}

/** The smallest writable layer: 64 KiB (a tmpfs of size 0 would have no limit). */
export const MIN_WRITABLE_SIZE = 64 * 1024;

/** Every container entry, whatever its section, has these. */
export const containerBaseFields = {
  name: field(str({ pattern: NAME, patternHint: 'a name of lower-case letters, digits, "-", "_" or "." (at most 63)' }), { required: true }),
  kind: kindField,
  image: field(imageRef, { description: 'A local directory (a root filesystem or an OCI bundle) or, with keel build, an image reference; required for a container' }),
  writableSize: field(
    refine(size(), (n) => (n < MIN_WRITABLE_SIZE ? `at least 64k (${MIN_WRITABLE_SIZE} bytes): the kernel reads a tmpfs size of 0 as no limit at all` : undefined)),
    { description: "A tmpfs of this size of the container's own for its writable layer; without it, on a tmpfs state directory (keel's VMs) the writable layers share one tmpfs apart from keel's state (keel extension)" },
  ),
  ...imageConfigFields,
};

/** The part every section shares, as its own type: what the runtime needs to run a container. */
export const containerBaseSpec = object(containerBaseFields);

export const containerSpec = eitherKind(object({
  ...containerBaseFields,
  timeout: field(duration(), { description: 'onboot/onshutdown: kill the container and report it after this long (keel extension)' }),
  critical: field(bool(), { description: 'onboot: a failure stops boot into the emergency state (keel extension)' }),
}));

/**
 * onboot and onshutdown: LinuxKit numbers their entries, so a name may come
 * twice (two `format` steps); each run gets an id of its own (phaseIds).
 */
export function containerList(): Spec<Array<typeof containerSpec extends Spec<infer T> ? T : never>> {
  return list(containerSpec);
}

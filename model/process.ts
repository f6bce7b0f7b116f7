// Process entries: an onboot, service or onshutdown entry with `kind:
// process` runs its command as a plain process in the root keel runs in,
// with no image and no container (so no runc is needed). Fields that only a
// container can honour are refused on such an entry, each with why; the rest
// (command, env, cwd, uid/gid, rlimits, noNewPrivileges, oomScoreAdj,
// resources, and every supervision field) apply to both kinds.
import { field, INVALID, oneOf, type Spec } from './schema.js';

export const ENTRY_KINDS = ['container', 'process'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export const kindField = field(oneOf(ENTRY_KINDS), {
  default: 'container' as EntryKind,
  description: 'container (runc, from an image) or process (a plain process in the root keel runs in: no image, no runc) (keel extension)',
});

const NO_NAMESPACES = 'a process shares the namespaces keel runs in; namespaces are made by runc for a container';
const NO_ROOT = 'a process sees the root filesystem keel runs in; its mounts are made by runc for a container';

/** The fields a process entry refuses, each with why: what they configure exists only around a container. */
export const CONTAINER_ONLY: Readonly<Record<string, string>> = {
  image: 'a process runs from the root filesystem keel runs in, not from an image',
  capabilities: 'a process has the capabilities of its user (root or not); capability sets are set up by runc for a container',
  'capabilities.add': 'a process has the capabilities of its user; capability sets are set up by runc for a container',
  ambient: 'a process has the capabilities of its user; capability sets are set up by runc for a container',
  mounts: NO_ROOT,
  binds: NO_ROOT,
  'binds.add': NO_ROOT,
  tmpfs: NO_ROOT,
  devices: 'a process sees the devices keel sees; a device list is enforced by runc for a container',
  readonly: NO_ROOT,
  writableSize: NO_ROOT,
  rootfsPropagation: NO_ROOT,
  maskedPaths: NO_ROOT,
  readonlyPaths: NO_ROOT,
  net: NO_NAMESPACES,
  pid: NO_NAMESPACES,
  ipc: NO_NAMESPACES,
  uts: NO_NAMESPACES,
  userns: NO_NAMESPACES,
  uidMappings: NO_NAMESPACES,
  gidMappings: NO_NAMESPACES,
  hostname: 'a hostname needs a UTS namespace of its own, which only a container has',
  sysctl: 'sysctls are set by runc in a container\'s own namespaces; a process would change the whole machine\'s',
  cgroupsPath: 'keel gives each process entry its own cgroup where one is delegated to it',
  disableOOMKiller: 'only cgroup v1 has it, and keel gives process entries cgroups only on cgroup v2',
  annotations: 'annotations are written into a container\'s OCI config',
  runtime: 'the runtime section is host work done around a container (mounts, interfaces, namespaces)',
};

/**
 * An entry spec that knows both kinds: a container needs an image; a
 * process needs a command and refuses CONTAINER_ONLY, each issue at its
 * field (the key, for a line and column), naming the fix.
 */
export function eitherKind<T extends { kind: EntryKind; image?: string; command?: string[]; readonly?: boolean; writableSize?: number }>(spec: Spec<T>): Spec<T> {
  return {
    ...spec,
    parse(value, path, issues) {
      const parsed = spec.parse(value, path, issues);
      if (parsed === INVALID) return parsed;
      const raw = value as Record<string, unknown>;
      let ok = true;
      if (parsed.kind === 'container' && parsed.image === undefined) {
        issues.add([...path, 'image'], 'is required for a container (or give kind: process to run a command without an image)');
        ok = false;
      }
      if (parsed.kind === 'container' && parsed.readonly === true && parsed.writableSize !== undefined) {
        issues.add([...path, 'writableSize'], 'a read-only container (readonly: true) has no writable layer to size; remove one of the two');
        ok = false;
      }
      if (parsed.kind === 'process') {
        if (parsed.command === undefined || parsed.command.length === 0) {
          issues.add([...path, 'command'], 'a process entry needs a command (there is no image to take one from)');
          ok = false;
        }
        for (const key of Object.keys(raw)) {
          const why = CONTAINER_ONLY[key];
          if (why === undefined) continue;
          issues.add([...path, key], `not for a process entry (kind: process): ${why}; remove it, or run the entry as a container`, true);
          ok = false;
        }
      }
      return ok ? parsed : INVALID;
    },
  };
}

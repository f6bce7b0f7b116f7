// What a valid manifest asks for that keel does differently: said, never
// silently ignored. `keel validate` and `keel build` print these.
import type { Manifest } from './manifest.js';

export interface ManifestWarning {
  field: string;
  message: string;
}

/** LinuxKit's own init, its runc and containerd (and their service launcher): keel is all of those. */
const REPLACED_BY_KEEL = /^(?:docker\.io\/)?linuxkit\/(init|runc|containerd|service)(?:[:@]|$)/;

/** Whether an `init:` image is one keel replaces, and so leaves out of the image. */
export function replacedByKeel(ref: string): boolean {
  return REPLACED_BY_KEEL.test(ref);
}

export function manifestWarnings(m: Manifest): ManifestWarning[] {
  const out: ManifestWarning[] = [];
  const replaced = m.init.filter(replacedByKeel);
  for (const [i, v] of m.volumes.entries()) {
    const others = (v.platforms ?? []).filter((p) => p !== 'linux/amd64');
    if (others.length) out.push({ field: `volumes[${i}].platforms`, message: `${others.join(', ')} left out: keel writes the volume for the platform it builds for (linux/amd64)` });
  }
  if (replaced.length) out.push({ field: 'init', message: `${replaced.join(', ')} ${replaced.length > 1 ? 'are' : 'is'} left out: keel is the init, and runs containers with its own runc; these images are not needed` });
  out.push(...entryWarnings(m));
  return out;
}

type Section = 'onboot' | 'services' | 'onshutdown';
type Entry = Manifest[Section][number];

/** What a process entry's own cgroup takes (runtime/process-cgroup.ts limitFiles, which a test keeps the same): the rest of resources is runc's. */
export const PROCESS_LIMITS: Readonly<Record<string, readonly string[] | true>> = {
  memory: ['limit', 'reservation', 'swap'],
  cpu: ['quota', 'period', 'shares', 'cpus', 'mems'],
  pids: true,
  blockIO: ['weight'],
};

/** The resources a process entry names that its cgroup does not set: said, not silently dropped. */
function processResourceWarnings(resources: Entry['resources'], at: string): ManifestWarning[] {
  const ignored: string[] = [];
  for (const [group, value] of Object.entries(resources ?? {})) {
    const applied = PROCESS_LIMITS[group];
    if (applied === true) continue;
    if (applied === undefined || typeof value !== 'object' || value === null || Array.isArray(value)) ignored.push(group);
    else for (const key of Object.keys(value)) if (!applied.includes(key)) ignored.push(`${group}.${key}`);
  }
  // cgroup v2 writes these only beside another: memory.swap.max with memory.max, cpu.max's period with its quota.
  if (resources?.memory?.swap !== undefined && resources.memory.limit === undefined) ignored.push('memory.swap (without memory.limit)');
  if (resources?.cpu?.period !== undefined && resources.cpu.quota === undefined) ignored.push('cpu.period (without cpu.quota)');
  return ignored.map((f) => ({ field: `${at}.resources.${f}`, message: `not applied to a process entry, whose cgroup takes only memory.limit, reservation and swap, cpu.quota, period, shares, cpus and mems, pids.limit and blockIO.weight; remove it, or run the entry as a container` }));
}

/** Per entry: the LinuxKit fields keel takes but cannot honour, and binds that write to a read-only volume. */
function entryWarnings(m: Manifest): ManifestWarning[] {
  const out: ManifestWarning[] = [];
  const readOnly = new Set(m.volumes.filter((v) => v.readonly).map((v) => v.name));
  for (const section of ['onboot', 'services', 'onshutdown'] as const) {
    m[section].forEach((e: Entry, i) => {
      const at = `${section}[${i}]`;
      const memory = e.resources?.memory;
      for (const k of ['kernel', 'kernelTCP'] as const) {
        if (memory?.[k] !== undefined && e.kind === 'container') out.push({ field: `${at}.resources.memory.${k}`, message: 'ignored: the kernel has no separate kernel memory limit on cgroup v2 (kernel memory counts toward memory.limit); remove it' });
      }
      if (e.resources?.network && e.kind === 'container') out.push({ field: `${at}.resources.network`, message: 'net_cls and net_prio exist only on cgroup v1: in keel\'s VMs (cgroup v2) runc ignores this' });
      if (e.kind === 'process') out.push(...processResourceWarnings(e.resources, at));
      for (const key of ['binds', 'binds.add'] as const) {
        for (const b of e[key] ?? []) {
          if (!readOnly.has(b.source) || b.options.includes('ro')) continue;
          out.push({ field: `${at}.${key}`, message: `${b.source}:${b.destination}: the volume ${b.source} is read-only, so keel binds it read-only; add :ro to say so (LinuxKit refuses a read-write bind of a read-only volume)` });
        }
      }
    });
  }
  return out;
}

/** "@pkg:" names a LinuxKit package to build from source: keel builds images only from images. */
export function pkgReferenceProblem(ref: string): string | undefined {
  return ref.startsWith('@pkg:')
    ? `"${ref}" asks LinuxKit to build a package from its source, which keel does not do; build it with "linuxkit pkg build ${ref.slice('@pkg:'.length)}" and name the image it makes`
    : undefined;
}

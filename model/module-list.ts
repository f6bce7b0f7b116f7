// The kernel module list keel build writes into the image (MODULE_LIST) and
// keel-init loads at boot: dependencies first, one module a line, "PATH" then
// a tab before each module (by path, on an earlier line) that must be in the
// kernel before this one can link. The header line says the list names its
// dependencies; a list without it (an older or hand-written one) is loaded
// one module after another, in its order.
//
// A device driver's line also carries the devices it drives, each as a tab
// and "@" before a modalias pattern (its .modinfo alias, as the kernel
// reports a present device in /sys/.../modalias): keel-init loads it before
// the workload only when such a device is there, and the others once boot is
// complete. A "~" field marks a module listed only because another needs it.
//
// A module that drives no device but gives the kernel a feature (a
// filesystem, a link kind) carries the names the kernel asks for it by, each
// as a tab and "%" before it ("fs-overlay", "rtnl-link-bridge"): it is
// loaded when the kernel first asks (the image's modprobe helper), else once
// boot is complete.
import { basename } from 'node:path';

export interface ModuleToLoad {
  path: string;
  /** Paths of the modules this one needs; undefined when the list does not say. */
  deps: string[] | undefined;
  /** Modalias patterns of the devices it drives; empty for a module that is not gated on a device. */
  devices: string[];
  /** Listed only as another's dependency: loaded when that one is. */
  onlyAsDependency: boolean;
  /** The names the kernel's request_module asks for it by; empty for a module loaded at boot. */
  requests: string[];
}

const HEADER = '# keel kernel modules: path, then its dependencies, tab-separated';

/** The name the kernel lists a loaded module by (in /sys/module): its file's, with - as _. */
export function moduleName(path: string): string {
  return basename(path, '.ko').replace(/-/g, '_');
}

/**
 * `roots` and every module they need, in the list's order (which puts each module after those it needs); a module
 * in `skip` is left out, and so is what only it needs.
 */
export function withDependencies<M extends { path: string; deps?: readonly string[] | undefined }>(list: readonly M[], roots: Iterable<M>, skip: ReadonlySet<string> = new Set()): M[] {
  const byPath = new Map(list.map((m) => [m.path, m]));
  const picked = new Set<string>();
  const pick = (m: M) => {
    if (picked.has(m.path) || skip.has(m.path)) return;
    picked.add(m.path);
    for (const d of m.deps ?? []) {
      const dep = byPath.get(d);
      if (dep) pick(dep);
    }
  };
  for (const r of roots) pick(r);
  return list.filter((m) => picked.has(m.path));
}

/** The bus a modalias pattern names ("pci" of "pci:v00001AF4d*", "acpi" of "acpi*:PNP0C0C:*"); undefined for an alias that is no device's (fs-overlay). */
export function modaliasBus(pattern: string): string | undefined {
  return /^([a-z0-9_]+)\**:/.exec(pattern)?.[1];
}

export interface ListedModule {
  path: string;
  deps: readonly string[];
  devices?: readonly string[];
  onlyAsDependency?: boolean;
  requests?: readonly string[];
}

export function formatModuleList(modules: readonly ListedModule[]): string {
  const line = (m: ListedModule) => [m.path, ...m.deps, ...(m.devices ?? []).map((d) => `@${d}`), ...(m.requests ?? []).map((r) => `%${r}`), ...(m.onlyAsDependency ? ['~'] : [])].join('\t');
  return [HEADER, ...modules.map(line)].join('\n') + '\n';
}

export function parseModuleList(text: string): ModuleToLoad[] {
  const lines = text.split('\n');
  const named = lines[0] === HEADER;
  return lines
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((line) => {
      const [path, ...fields] = line.split('\t');
      const rest = named ? fields.filter(Boolean) : [];
      return {
        path: path!,
        deps: named ? rest.filter((f) => !f.startsWith('@') && !f.startsWith('%') && f !== '~') : undefined,
        devices: rest.filter((f) => f.startsWith('@')).map((f) => f.slice(1)),
        onlyAsDependency: rest.includes('~'),
        requests: rest.filter((f) => f.startsWith('%')).map((f) => f.slice(1)),
      };
    });
}

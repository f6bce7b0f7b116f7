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
  return out;
}

/** "@pkg:" names a LinuxKit package to build from source: keel builds images only from images. */
export function pkgReferenceProblem(ref: string): string | undefined {
  return ref.startsWith('@pkg:')
    ? `"${ref}" asks LinuxKit to build a package from its source, which keel does not do; build it with "linuxkit pkg build ${ref.slice('@pkg:'.length)}" and name the image it makes`
    : undefined;
}

// Before anything is built: every image the manifest names is resolved, and
// every container entry goes through the same OCI spec generation keel-init
// uses at boot, so what can be known at build time fails the build, all of
// it in one run, each problem with where it is in the manifest.
import type { Manifest } from '../../model/index.js';
import type { Path } from '../../model/schema.js';
import { entriesOf, replacedByKeel } from '../../model/index.js';
import { buildOciSpec, SpecError } from '../../runtime/oci-spec.js';
import { resolveRef, type ImageContext } from './images.js';
import { kernelImageRef, resolveKernelImage } from './kernel-image.js';
import { BuildError } from './kernel.js';

/** Container names can stand for uids: any number will do to check the spec. */
function idsOf(manifest: Manifest): (name: string) => number | undefined {
  const names = new Set(entriesOf(manifest).map((c) => c.name));
  return (name) => (names.has(name) ? 100 : undefined);
}

/**
 * The problems, one after another. An indented line (a fix) that several of them carry is said
 * once, after the last of them: six images that cannot be pulled get six reasons and one fix.
 */
function problemsText(problems: readonly string[]): string {
  const lines = problems.map((p) => p.split('\n'));
  const isLast = (line: string, i: number) => !lines.slice(i + 1).some((later) => later.slice(1).includes(line));
  return lines.map(([head, ...rest], i) => [head, ...rest.filter((line) => isLast(line, i))].join('\n')).join('\n');
}

/** `where` says where a field is written ("FILE:LINE:COLUMN"). */
export async function preflight(manifest: Manifest, ctx: ImageContext, where: (path: Path) => string): Promise<void> {
  const problems: string[] = [];
  const attempt = async (path: Path, label: string, f: (what: string) => Promise<void>) => {
    const what = `${where(path)}: ${label}`;
    try {
      await f(what);
    } catch (err) {
      if (!(err instanceof BuildError)) throw err;
      problems.push(err.message.startsWith(what) ? err.message : `${what}: ${err.message}`);
    }
  };
  const kernelRef = kernelImageRef(manifest.kernel, ctx.baseDir);
  const refs = [
    ...(kernelRef ? [kernelRef] : []),
    ...manifest.init.filter((r) => !replacedByKeel(r)),
    ...manifest.volumes.flatMap((v) => (v.image ? [v.image] : [])),
    ...entriesOf(manifest).flatMap((c) => (c.image !== undefined ? [c.image] : [])),
  ];
  ctx.imageCount = new Set(refs).size;
  if (kernelRef) await attempt(['kernel', 'image'], 'kernel.image', (what) => resolveKernelImage(kernelRef, ctx, what));
  for (const [i, ref] of manifest.init.entries()) if (!replacedByKeel(ref)) await attempt(['init', i], `init[${i}]`, (what) => resolveRef(ref, ctx, what).then(() => undefined));
  for (const [i, v] of manifest.volumes.entries()) if (v.image) await attempt(['volumes', i, 'image'], `volumes[${i}].image`, (what) => resolveRef(v.image!, ctx, what).then(() => undefined));
  const idOf = idsOf(manifest);
  for (const phase of ['onboot', 'services', 'onshutdown'] as const) {
    for (const [i, entry] of manifest[phase].entries()) {
      // A process entry has no image: it runs from the machine's own root.
      if (entry.image === undefined) continue;
      const image = entry.image;
      await attempt([phase, i, 'image'], `${phase}[${i}] (${entry.name})`, async (what) => {
        const src = await resolveRef(image, ctx, what);
        try {
          buildOciSpec({ entry, image: src.config, rootfs: '/rootfs', idOf });
        } catch (err) {
          if (err instanceof SpecError) throw new BuildError(`${what}: ${err.message}`);
          throw err;
        }
      });
    }
  }
  if (problems.length) throw new BuildError(problemsText(problems));
}

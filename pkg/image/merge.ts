// Several manifests as one, in order, by LinuxKit's rules for
// `linuxkit build a.yml b.yml`: a later file's kernel fields replace the
// earlier ones where it sets them (an empty cmdline leaves the earlier one);
// init, onboot, services, onshutdown, files and volumes are appended. keel's
// own sections (hostname, console, shutdown) are replaced whole by a later
// file that has them. A service or volume named twice is an error, as it is
// in LinuxKit. Each file is validated on its own first, so every problem
// keeps its file, line and column; host paths in each file (image
// directories and archives, files[].source, kernel.image) stay relative to
// that file's own folder.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { fieldLocator, ManifestError, parseManifest, writtenFields, type Manifest, type ManifestProblem } from '../../model/index.js';
import type { Path } from '../../model/schema.js';
import { looksLikePath } from './sources/resolve.js';

export interface ManifestText {
  /** The file's name as messages show it. */
  file: string;
  text: string;
  /** The folder its relative paths start from. */
  dir: string;
}

/** Reads a manifest file for mergeManifests; an unreadable file is a ManifestError, as loadManifest makes it. */
export function readManifestText(file: string): ManifestText {
  try {
    return { file, text: readFileSync(file, 'utf8'), dir: dirname(resolve(file)) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ManifestError(file, [{ file, field: '', message: `cannot read the manifest: ${why}` }]);
  }
}

/** A host path as written in a manifest in `dir`, made absolute when it names something there (PATH#NAME kept). */
function fromDir(ref: string, dir: string): string {
  const hash = ref.lastIndexOf('#');
  const path = hash > 0 ? ref.slice(0, hash) : ref;
  if (isAbsolute(path) || !(looksLikePath(path) || existsSync(resolve(dir, path)))) return ref;
  return resolve(dir, path) + (hash > 0 ? ref.slice(hash) : '');
}

/** The manifest with its host paths made absolute, so it means the same read from any folder. */
function anchored(m: Manifest, dir: string): Manifest {
  // A process entry has no image.
  const entry = <T extends { image?: string }>(c: T): T => (c.image !== undefined ? { ...c, image: fromDir(c.image, dir) } : c);
  return {
    ...m,
    ...(m.kernel ? { kernel: { ...m.kernel, ...(m.kernel.image !== undefined ? { image: fromDir(m.kernel.image, dir) } : {}) } } : {}),
    init: m.init.map((r) => fromDir(r, dir)),
    onboot: m.onboot.map(entry),
    services: m.services.map(entry),
    onshutdown: m.onshutdown.map(entry),
    volumes: m.volumes.map((v) => (v.image !== undefined ? { ...v, image: fromDir(v.image, dir) } : v)),
    files: m.files.map((f) => (f.source !== undefined ? { ...f, source: resolve(dir, f.source) } : f)),
  };
}

type Kernel = NonNullable<Manifest['kernel']>;

function mergeKernel(a: Kernel | undefined, b: Kernel | undefined): Kernel | undefined {
  if (!a || !b) return b ?? a;
  const out: Kernel = { ...a, modules: [...new Set([...a.modules, ...b.modules])] };
  if (b.image !== undefined) out.image = b.image;
  if (b.cmdline !== '') out.cmdline = b.cmdline;
  if (b.binary !== undefined) out.binary = b.binary;
  if (b.tar !== undefined) out.tar = b.tar;
  if (b.ucode !== undefined) out.ucode = b.ucode;
  return out;
}

/** Names used twice across the files: LinuxKit refuses services (they run at once) and volumes (binds name them). */
function duplicates(m: Manifest, origin: ReadonlyMap<object, Origin>): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const section of ['services', 'volumes'] as const) {
    const seen = new Map<string, string>();
    for (const x of m[section]) {
      const { file, index, text } = origin.get(x)!;
      const first = seen.get(x.name);
      if (first !== undefined) problems.push({ file, ...position(text, [section, index, 'name']), field: `${section}[${index}].name`, message: `"${x.name}" is already a ${section === 'services' ? 'service' : 'volume'} in ${first}; names must be unique across the manifests merged` });
      else seen.set(x.name, file);
    }
  }
  return problems;
}

/** Where a service or volume of the merge was written: its file, its place in that file's list, and the file's text. */
interface Origin {
  file: string;
  index: number;
  text: string;
}

function recordOrigins(m: Manifest, t: ManifestText, origin: Map<object, Origin>): void {
  m.services.forEach((x, index) => origin.set(x, { file: t.file, index, text: t.text }));
  m.volumes.forEach((x, index) => origin.set(x, { file: t.file, index, text: t.text }));
}

/** The line and column of a value in a manifest's text, as model/load.ts gives them for its own problems. */
function position(text: string, path: readonly (string | number)[]): { line?: number; column?: number } {
  const counter = new LineCounter();
  const node: unknown = parseDocument(text, { lineCounter: counter }).getIn(path, true);
  if (!isNode(node) || !node.range) return {};
  const { line, col } = counter.linePos(node.range[0]);
  return { line, column: col };
}

/** The manifests merged in order. Throws a ManifestError with every problem of every file, or of the merge. */
export function mergeManifests(texts: readonly ManifestText[]): Manifest {
  const parsed: Array<{ t: ManifestText; m: Manifest; keys: Set<string> }> = [];
  const problems: ManifestProblem[] = [];
  for (const t of texts) {
    try {
      // Validated first: the fields are then read by keel's own YAML reader, which an alias bomb cannot stall.
      const m = anchored(parseManifest(t.text, t.file), t.dir);
      parsed.push({ t, m, keys: writtenFields(t.text) });
    } catch (err) {
      if (err instanceof ManifestError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new ManifestError(texts.map((t) => t.file).join(', '), problems);
  const origin = new Map<object, Origin>();
  let m = parsed[0]!.m;
  recordOrigins(m, parsed[0]!.t, origin);
  for (const { t, m: next, keys } of parsed.slice(1)) {
    recordOrigins(next, t, origin);
    const kernel = mergeKernel(m.kernel, next.kernel);
    m = {
      ...m,
      ...(kernel ? { kernel } : {}),
      init: [...m.init, ...next.init],
      onboot: [...m.onboot, ...next.onboot],
      services: [...m.services, ...next.services],
      onshutdown: [...m.onshutdown, ...next.onshutdown],
      files: [...m.files, ...next.files],
      volumes: [...m.volumes, ...next.volumes],
      ...(keys.has('hostname') && next.hostname !== undefined ? { hostname: next.hostname } : {}),
      ...(keys.has('console') ? { console: next.console } : {}),
      ...(keys.has('shutdown') ? { shutdown: next.shutdown } : {}),
    };
  }
  const dup = duplicates(m, origin);
  if (dup.length) throw new ManifestError(texts.map((t) => t.file).join(', '), dup);
  return m;
}

const LISTS = ['init', 'onboot', 'services', 'onshutdown', 'files', 'volumes'] as const;

/**
 * Where a field of the merged manifest is written ("FILE:LINE:COLUMN"): an
 * entry of an appended list is found in the file it came from, at its place
 * there; anything else in the last file.
 */
export function mergedFieldLocator(texts: readonly ManifestText[]): (path: Path) => string {
  const locators = texts.map((t) => fieldLocator(t.file));
  let lengths: Array<Record<string, number>> | undefined;
  return (path) => {
    const [section, index, ...rest] = path;
    if (typeof section === 'string' && typeof index === 'number' && (LISTS as readonly string[]).includes(section)) {
      lengths ??= texts.map((t) => {
        const m = parseManifest(t.text, t.file);
        return Object.fromEntries(LISTS.map((l) => [l, m[l].length]));
      });
      let i = index;
      for (const [k, counts] of lengths.entries()) {
        const n = counts[section] ?? 0;
        if (i < n) return locators[k]!([section, i, ...rest]);
        i -= n;
      }
    }
    return locators.at(-1)!(path);
  };
}

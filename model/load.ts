// Reading a manifest from disk: YAML (keel.yml) or the normalized JSON that
// `keel build` writes. Both go through the same validation, and every error
// names the file, line and column, and the field. Reading is bounded: the
// file's size, the values aliases add, the problems listed and the length of
// any value a message repeats all have limits, and the time taken grows in
// step with the file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { jsonOffset, linePosition } from './json-locate.js';
import { manifestSpec, type Manifest } from './manifest.js';
import { defaultsOf, formatPath, INVALID, Issues, show, type Issue, type Path } from './schema.js';
import { readYaml } from './yaml-data.js';
import { isProfileFile, readProfile } from './seccomp.js';

export const MANIFEST_FORMAT = 'keel-manifest/1';

/**
 * The largest YAML manifest keel reads. A manifest describes containers: a
 * few kilobytes, or a few hundred with long inline files; big contents belong
 * in files of their own (files: source:). The yaml library takes 0.6 to 2.5 s
 * of CPU and about 180 MiB of memory per MiB it reads, depending on the
 * style (bench/manifest.ts).
 */
export const MAX_YAML_BYTES = 1 << 20;
/**
 * The largest normalized JSON manifest (what keel build writes: every
 * default spelled out, so several times its YAML). JSON.parse reads it at
 * tens of MB per second.
 */
export const MAX_MANIFEST_BYTES = 16 << 20;
/** Problems listed in one error; the rest are counted. */
export const MAX_PROBLEMS = 20;

export interface ManifestProblem {
  file: string;
  line?: number;
  column?: number;
  field: string;
  message: string;
}

export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ManifestProblem[],
    /** Problems found beyond those listed. */
    readonly more = 0,
  ) {
    super([...problems.map(formatProblem), ...(more > 0 ? [`${file}: … and ${more} more problem(s) of the same kinds; fix these first`] : [])].join('\n'));
    this.name = 'ManifestError';
  }
}

export function formatProblem(p: ManifestProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return p.field === '' ? `${where}: ${p.message}` : `${where}: ${p.field}: ${p.message}`;
}

type Locator = (path: Issue['path'], atKey: boolean) => { line: number; column: number } | undefined;

/** Reads each seccomp profile file an entry names (relative to the manifest) into the entry. */
function readProfiles(manifest: Manifest, baseDir: string, issues: Issues): void {
  for (const section of ['onboot', 'services', 'onshutdown'] as const) {
    manifest[section].forEach((entry, i) => {
      if (!isProfileFile(entry.seccomp)) return;
      const profile = readProfile(entry.seccomp, baseDir, [section, i, 'seccomp'], issues);
      if (profile) entry.seccomp = profile;
    });
  }
}

/** Fields only a LinuxKit package's build.yml has (`linuxkit pkg build` reads it; it names the image a package makes). */
const PACKAGE_FIELDS = ['org', 'arches', 'dockerfile', 'tag', 'buildArgs', 'network', 'disable-cache', 'disable-content-trust', 'extra-sources', 'depends', 'config'];
const MANIFEST_SECTIONS = ['kernel', 'init', 'onboot', 'services', 'onshutdown', 'files'];

/** Why `data` is a LinuxKit package's build.yml rather than an image manifest, or undefined: one line instead of one per field. */
function packageBuildFile(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const keys = Object.keys(data);
  const own = keys.filter((k) => PACKAGE_FIELDS.includes(k));
  if (!keys.includes('image') || own.length === 0 || keys.some((k) => MANIFEST_SECTIONS.includes(k))) return undefined;
  return `this is a LinuxKit package's build.yml (image, ${own.join(', ')}), which "linuxkit pkg build" reads to make one image, not an image manifest; keel builds from manifests with kernel, init, onboot and services, and takes the package's image by name in one of them`;
}

/** Validates plain data read from a manifest; problems are placed by `locate`, the first MAX_PROBLEMS of them. */
function validate(data: unknown, file: string, locate: Locator): Manifest {
  // The normalized JSON carries a format marker; accept it, and refuse other versions.
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && 'format' in data) {
    const { format, ...rest } = data as Record<string, unknown>;
    if (format !== MANIFEST_FORMAT) {
      throw new ManifestError(file, [{ file, field: 'format', message: `${show(format)} is not ${MANIFEST_FORMAT}; rebuild the image with this version of keel`, ...locate(['format'], false) }]);
    }
    data = rest;
  }
  const notManifest = packageBuildFile(data);
  if (notManifest) throw new ManifestError(file, [{ file, field: '', message: notManifest }]);
  const issues = new Issues();
  const result = manifestSpec.parse(data ?? {}, [], issues);
  if (result !== INVALID && issues.list.length === 0) readProfiles(result, dirname(file), issues);
  if (result === INVALID || issues.list.length > 0) {
    const shown = issues.list.slice(0, MAX_PROBLEMS);
    throw new ManifestError(
      file,
      shown.map((i) => ({ file, field: formatPath(i.path), message: i.message, ...locate(i.path, i.atKey === true) })),
      issues.list.length - shown.length,
    );
  }
  return result;
}

/**
 * The normalized JSON that `keel build` writes, read with JSON.parse: what a
 * VM boots, fast at any size. Undefined when the text is not that form (it
 * is then read as YAML, of which JSON is a part).
 */
function parseNormalized(text: string, file: string): Manifest | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (data === null || typeof data !== 'object' || !('format' in data)) return undefined;
  return validate(data, file, (path, atKey) => linePosition(text, jsonOffset(text, path, atKey)));
}

/** Parses and validates manifest text. `file` names it in messages, and files it names (seccomp profiles) are relative to it. */
export function parseManifest(text: string, file: string): Manifest {
  if (text.length > MAX_MANIFEST_BYTES) throw tooBig(file, Buffer.byteLength(text));
  const normalized = parseNormalized(text, file);
  if (normalized) return normalized;
  if (text.length > MAX_YAML_BYTES && Buffer.byteLength(text) > MAX_YAML_BYTES) throw tooBig(file, Buffer.byteLength(text));
  const read = readYaml(text);
  if (Array.isArray(read)) {
    const shown = read.slice(0, MAX_PROBLEMS);
    throw new ManifestError(file, shown.map((p) => ({ file, ...p })), read.length - shown.length);
  }
  return validate(read.data, file, read.locate);
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function tooBig(file: string, size: number | undefined): ManifestError {
  const was = size !== undefined ? `${mib(size)} (${size} bytes)` : `over ${mib(MAX_MANIFEST_BYTES)}`;
  return new ManifestError(file, [
    {
      file,
      field: '',
      message: `the manifest is ${was}; keel reads at most ${mib(MAX_YAML_BYTES)} (${MAX_YAML_BYTES} bytes) of YAML, or ${mib(MAX_MANIFEST_BYTES)} of the normalized JSON that keel build writes: keep large contents in files of their own (files: - source: PATH) rather than inline`,
    },
  ]);
}

/** The manifest's text, read no further than the limit (the file may be a device or a pipe that never ends). */
export function readManifestText(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String((err as Error).message);
    throw new ManifestError(file, [{ file, field: '', message: `cannot read the manifest: ${why}` }]);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ManifestError(file, [{ file, field: '', message: 'cannot read the manifest: it is a directory' }]);
    if (st.isFile() && st.size > MAX_MANIFEST_BYTES) throw tooBig(file, st.size);
    const buf = Buffer.allocUnsafe(MAX_MANIFEST_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buf.length; length += n) n = readSync(fd, buf, length, buf.length - length, null);
    if (length > MAX_MANIFEST_BYTES) throw tooBig(file, st.isFile() ? Math.max(st.size, length) : undefined);
    return buf.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    throw new ManifestError(file, [{ file, field: '', message: `cannot read the manifest: ${(err as Error).message}` }]);
  } finally {
    closeSync(fd);
  }
}

/**
 * Where each field of a manifest file is written: "FILE:LINE:COLUMN", for
 * messages about a manifest after it loaded (keel build's). Read again only
 * when such a message is made.
 */
export function fieldLocator(file: string): (path: Path) => string {
  let locate: ((path: Path) => { line: number; column: number } | undefined) | undefined;
  return (path) => {
    if (!locate) {
      const text = readManifestText(file);
      const read = /^\s*\{/.test(text) ? undefined : readYaml(text);
      locate = read && !Array.isArray(read) ? (p) => read.locate(p, false) : (p) => linePosition(text, jsonOffset(text, p, false));
    }
    const at = locate(path);
    return at ? `${file}:${at.line}:${at.column}` : file;
  };
}

/** The manifest's own data as its author wrote it (no defaults), for files[].metadata. */
export function manifestData(file: string): unknown {
  const text = readManifestText(file);
  const read = readYaml(text);
  return Array.isArray(read) ? {} : read.data;
}

/** The top-level fields a manifest's text sets, for merging several (read after parseManifest accepted it). */
export function writtenFields(text: string): Set<string> {
  let data: unknown;
  try {
    data = /^\s*\{/.test(text) ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (data === undefined) {
    const read = readYaml(text);
    data = Array.isArray(read) ? undefined : read.data;
  }
  return new Set(data !== null && typeof data === 'object' ? Object.keys(data) : []);
}

export function loadManifest(file: string): Manifest {
  return parseManifest(readManifestText(file), file);
}

/** The manifest of an empty file: every default, nothing to run. */
export function emptyManifest(): Manifest {
  return defaultsOf(manifestSpec);
}

/** The normalized JSON that `keel build` bakes into the image as /etc/keel/manifest.json; refused when keel-init would refuse it. */
export function normalizedJson(manifest: Manifest, file = 'the manifest'): string {
  const body = manifestSpec.serialize(manifest) as Record<string, unknown>;
  const text = JSON.stringify({ format: MANIFEST_FORMAT, ...body }, null, 2) + '\n';
  if (text.length > MAX_MANIFEST_BYTES) {
    throw new ManifestError(file, [{ file, field: '', message: `with every default written out it is ${mib(text.length)}, over the ${mib(MAX_MANIFEST_BYTES)} keel-init reads: fewer or smaller entries` }]);
  }
  return text;
}

export function jsonSchema(): Record<string, unknown> {
  const schema = manifestSpec.jsonSchema();
  const properties = { format: { const: MANIFEST_FORMAT }, ...(schema.properties as object) };
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'keel manifest', ...schema, properties };
}

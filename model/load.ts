// Reading a manifest from disk: YAML (keel.yml) or the normalized JSON that
// `keel build` writes. Both go through the same validation, and every error
// names the file, line and column, and the field.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document, type ScalarTag } from 'yaml';
import { manifestSpec, type Manifest } from './manifest.js';
import { defaultsOf, formatPath, INVALID, Issues, type Path } from './schema.js';

/**
 * LinuxKit reads its YAML with YAML 1.1 rules, where 0644 is octal; YAML 1.2
 * (this parser) would read 644. Only that rule is borrowed, so modes written
 * LinuxKit's way (mode: 0666) keep their meaning; 1.1's yes/no/on/off
 * booleans are not, since "access: off" must stay a word.
 */
const LEGACY_OCTAL: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (text: string) => parseInt(text, 8),
};

export const MANIFEST_FORMAT = 'keel-manifest/1';

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
  ) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ManifestError';
  }
}

export function formatProblem(p: ManifestProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return p.field === '' ? `${where}: ${p.message}` : `${where}: ${p.field}: ${p.message}`;
}

/** Finds the closest YAML node to a path, for a line and column. */
function locate(doc: Document, counter: LineCounter, path: Path, atKey: boolean): { line: number; column: number } | undefined {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    let node: unknown = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true);
    // For an unknown or misspelt key the key node is the better place to point at.
    if (atKey && n === path.length && n > 0) {
      const parent = doc.getIn(path.slice(0, -1), true) as { items?: Array<{ key?: { value?: unknown; range?: number[] } }> } | undefined;
      const key = parent?.items?.find((it) => it.key?.value === path[path.length - 1])?.key;
      if (key?.range) node = key;
    }
    if (isNode(node) && node.range) {
      const pos = counter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
    if (node && typeof node === 'object' && 'range' in node && Array.isArray((node as { range: unknown }).range)) {
      const pos = counter.linePos((node as { range: number[] }).range[0]!);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}

/**
 * The normalized JSON keel build writes (it carries the format marker), read
 * with JSON.parse: the YAML parser's document model costs PID 1 seconds of
 * boot under emulation. Undefined for anything else or any problem: the YAML
 * path then reads it, refusing duplicate keys and saying where a problem is.
 */
function parseJsonFast(text: string): Manifest | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const { format, ...rest } = data as Record<string, unknown>;
  if (format !== MANIFEST_FORMAT) return undefined;
  const issues = new Issues();
  const result = manifestSpec.parse(rest, [], issues);
  return result === INVALID || issues.list.length > 0 ? undefined : result;
}

/** Parses and validates manifest text. `file` is only used in messages. */
export function parseManifest(text: string, file: string): Manifest {
  const fast = parseJsonFast(text);
  if (fast) return fast;
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true, customTags: (tags) => [LEGACY_OCTAL, ...tags] });
  if (doc.errors.length > 0) {
    throw new ManifestError(
      file,
      doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        return { file, field: '', message: `not valid YAML: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
      }),
    );
  }
  let data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || data === undefined) data = {};
  // The normalized JSON carries a format marker; accept it, and refuse other versions.
  if (typeof data === 'object' && !Array.isArray(data) && 'format' in (data as object)) {
    const { format, ...rest } = data as Record<string, unknown>;
    if (format !== MANIFEST_FORMAT) {
      throw new ManifestError(file, [
        { file, field: 'format', message: `${JSON.stringify(format)} is not ${MANIFEST_FORMAT}; rebuild the image with this version of keel` },
      ]);
    }
    data = rest;
  }
  const issues = new Issues();
  const result = manifestSpec.parse(data, [], issues);
  if (result === INVALID || issues.list.length > 0) {
    throw new ManifestError(
      file,
      issues.list.map((i) => ({ file, field: formatPath(i.path), message: i.message, ...locate(doc, counter, i.path, i.atKey === true) })),
    );
  }
  return result;
}

export function loadManifest(file: string): Manifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new ManifestError(file, [{ file, field: '', message: `cannot read the manifest: ${why}` }]);
  }
  return parseManifest(text, file);
}

/** The manifest of an empty file: every default, nothing to run. */
export function emptyManifest(): Manifest {
  return defaultsOf(manifestSpec);
}

/** The normalized JSON that `keel build` bakes into the image as /etc/keel/manifest.json. */
export function normalizedJson(manifest: Manifest): string {
  const body = manifestSpec.serialize(manifest) as Record<string, unknown>;
  return JSON.stringify({ format: MANIFEST_FORMAT, ...body }, null, 2) + '\n';
}

export function jsonSchema(): Record<string, unknown> {
  const schema = manifestSpec.jsonSchema();
  const properties = { format: { const: MANIFEST_FORMAT }, ...(schema.properties as object) };
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'keel manifest', ...schema, properties };
}

// YAML text to plain data, in one linear pass, with every problem placed at
// its line and column. The yaml library parses; this file turns its document
// into values itself, because the library's own conversion is where hostile
// input costs: it resolves each alias by scanning the whole document (many
// aliases are quadratic), its duplicate-key check compares each key with
// every other (a mapping of 40,000 keys took 25 s), and an alias bomb or an
// alias to a missing anchor ends in a bare ReferenceError.
import type { Alias, Document, LineCounter, Node, ScalarTag, YAMLMap, YAMLSeq } from 'yaml';
import { clip, formatPath, type Path } from './schema.js';

type YamlLib = typeof import('yaml');
let loaded: YamlLib | undefined;
/**
 * The yaml library, loaded when the first YAML is read rather than when the
 * bundle starts: it is a third of keel-init's bundle (250 KB), and a VM boots
 * from keel build's normalized JSON, which never needs it. (A require, not an
 * import: esbuild bundles it all the same, and runs its module code only here.)
 */
function yaml(): YamlLib {
  return (loaded ??= require('yaml') as YamlLib);
}

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

/** Values that aliases may add, in all: a few aliases of shared settings are far below it; a "billion laughs" is far above. */
export const MAX_ALIASED_VALUES = 100_000;
/** Nesting deeper than any manifest needs (its own schema is 6 levels deep). */
export const MAX_DEPTH = 64;
/** The library composes recursively: nesting thousands deep overflows the stack, which it reports or throws. */
const TOO_DEEP = `nested too deeply to read (a manifest needs at most ${MAX_DEPTH} levels)`;

export interface Located {
  field: string;
  message: string;
  line?: number;
  column?: number;
}

/** A problem that stops the reading at once (an alias bomb): the others found so far go with it. */
class Stop extends Error {}

export interface YamlData {
  data: unknown;
  /** Where the value at `path` is written (its key, with atKey), or the closest place above it. */
  locate(path: Path, atKey: boolean): { line: number; column: number } | undefined;
}

/** Parses YAML text; throws the problems as a list of Located when the text is not a readable document. */
export function readYaml(text: string): YamlData | Located[] {
  const counter = new (yaml().LineCounter)();
  let doc: Document.Parsed;
  try {
    doc = yaml().parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: false, customTags: (tags) => [LEGACY_OCTAL, ...tags] });
  } catch (err) {
    if (err instanceof RangeError) return [{ field: '', message: TOO_DEEP }];
    throw err;
  }
  if (doc.errors.length > 0) {
    return doc.errors.map((e) => ({ field: '', message: e.message.startsWith('Maximum call stack') ? TOO_DEEP : `not valid YAML: ${clip(e.message.split('\n')[0]!)}`, ...at(counter, e.pos[0]) }));
  }
  const reader = new DataReader(counter);
  let data: unknown;
  try {
    data = reader.value(doc.contents, [], 0).value;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  if (reader.problems.length > 0) return reader.problems;
  return { data: data ?? null, locate: (path, atKey) => locate(doc, counter, path, atKey) };
}

function at(counter: LineCounter, offset: number): { line: number; column: number } {
  const pos = counter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** A value and how many values it holds (itself included), what an alias to it adds. */
interface Sized {
  value: unknown;
  size: number;
}

class DataReader {
  readonly problems: Located[] = [];
  /** The node each anchor name stands for: the last one defined before the point reached. */
  private readonly anchors = new Map<string, Node>();
  private readonly done = new Map<Node, Sized>();
  private readonly open = new Set<Node>();
  private aliased = 0;

  constructor(private readonly counter: LineCounter) {}

  private problem(node: { range?: readonly number[] | null } | null | undefined, path: Path, message: string): void {
    this.problems.push({ field: path.length ? formatPath(path) : '', message, ...(node?.range ? at(this.counter, node.range[0]!) : {}) });
  }

  value(node: unknown, path: Path, depth: number): Sized {
    if (node === null || node === undefined) return { value: null, size: 1 };
    if (yaml().isAlias(node)) return this.alias(node, path);
    const n = node as Node;
    if (n.anchor) this.anchors.set(n.anchor, n);
    if (depth > MAX_DEPTH) {
      this.problem(n, path, `nested more than ${MAX_DEPTH} levels deep; no field of a manifest is`);
      throw new Stop();
    }
    // Only anchored values are remembered: they are all an alias can name.
    if (n.anchor) this.open.add(n);
    const sized = yaml().isMap(n) ? this.map(n, path, depth) : yaml().isSeq(n) ? this.seq(n, path, depth) : { value: scalarValue(n), size: 1 };
    if (n.anchor) {
      this.open.delete(n);
      this.done.set(n, sized);
    }
    return sized;
  }

  private alias(node: Alias, path: Path): Sized {
    const target = this.anchors.get(node.source);
    // A name is as long as its author made it: shown clipped, as any value is.
    const name = clip(node.source);
    if (!target) {
      this.problem(node, path, `the alias *${name} names no anchor defined before it; write &${name} on an earlier value, or write the value here`);
      return { value: null, size: 1 };
    }
    const sized = this.done.get(target);
    if (!sized || this.open.has(target)) {
      this.problem(node, path, `the alias *${name} is inside the value it names, which would never end`);
      throw new Stop();
    }
    this.aliased += sized.size;
    if (this.aliased > MAX_ALIASED_VALUES) {
      this.problem(node, path, `aliases expand to more than ${MAX_ALIASED_VALUES} values here (an alias bomb?); write the values out, or use fewer aliases of large values`);
      throw new Stop();
    }
    return sized;
  }

  private map(node: YAMLMap, path: Path, depth: number): Sized {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    const merged: Sized[] = [];
    let size = 1;
    for (const pair of node.items) {
      if (isMergeKey(pair.key)) {
        merged.push(...this.mergeSources(pair.value, [...path, '<<'], depth + 1));
        continue;
      }
      const key = this.key(pair.key, path);
      if (key === undefined) continue;
      if (seen.has(key)) {
        this.problem(pair.key as Node, [...path, key], 'is given twice in the same mapping; keep one');
        continue;
      }
      seen.add(key);
      const v = key === 'mode' && modeDigits(pair.value) ? { value: modeDigits(pair.value), size: 1 } : this.value(pair.value, [...path, key], depth + 1);
      size += v.size;
      setField(out, key, v.value);
    }
    // A merge key's fields come under the mapping's own, whatever the order written; of
    // several merged mappings, the first that has a field gives it (YAML 1.1's merge type,
    // which LinuxKit's Go reader follows).
    for (const m of merged) {
      size += m.size;
      for (const [key, value] of Object.entries(m.value as Record<string, unknown>)) {
        if (seen.has(key)) continue;
        seen.add(key);
        setField(out, key, value);
      }
    }
    return { value: out, size };
  }

  /** The mappings a merge key names: one mapping, or a list of them, each written out or an alias. */
  private mergeSources(node: unknown, path: Path, depth: number): Sized[] {
    const items = yaml().isSeq(node) ? node.items : [node];
    const out: Sized[] = [];
    items.forEach((item, i) => {
      const at = yaml().isSeq(node) ? [...path, i] : path;
      const v = this.value(item, at, depth);
      if (v.value !== null && typeof v.value === 'object' && !Array.isArray(v.value)) out.push(v);
      else this.problem(item as Node, at, 'a merge key (<<) takes a mapping or a list of mappings, often an alias such as <<: *defaults');
    });
    return out;
  }

  private seq(node: YAMLSeq, path: Path, depth: number): Sized {
    const out: unknown[] = [];
    let size = 1;
    node.items.forEach((item, i) => {
      const v = this.value(item, [...path, i], depth + 1);
      size += v.size;
      out.push(v.value);
    });
    return { value: out, size };
  }

  /** A mapping key as a field name: a plain value (an alias to one is read through). */
  private key(node: unknown, path: Path): string | undefined {
    const target = yaml().isAlias(node) ? this.anchors.get(node.source) : node;
    if (target === null || target === undefined) return '';
    if (yaml().isScalar(target)) return String(scalarValue(target) ?? '');
    this.problem(node as Node, path, 'a key is a list or a mapping; keys are plain names');
    return undefined;
  }
}

/** `<<` written plain (not quoted): YAML 1.1's merge key. */
function isMergeKey(node: unknown): boolean {
  return yaml().isScalar(node) && node.type === 'PLAIN' && node.source === '<<';
}

/** As JSON.parse does: a key named __proto__ is a field like any other, never the prototype. */
function setField(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A file mode written as plain digits (mode: 755), as its text: LinuxKit
 * reads every mode as an octal string, so 755 means 0755 there, where YAML
 * alone would make it the number 755 (0o1363). Every field named mode in a
 * manifest is a file mode.
 */
function modeDigits(node: unknown): string | undefined {
  if (!yaml().isScalar(node) || node.anchor || node.type !== 'PLAIN' || typeof node.value !== 'number') return undefined;
  return /^[0-7]{3,4}$/.test(node.source ?? '') ? node.source : undefined;
}

/** Scalars resolve to JSON's kinds under the core schema; anything else (a custom tag's value) is read as text. */
function scalarValue(node: Node): unknown {
  const v = yaml().isScalar(node) ? node.value : undefined;
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return v === undefined ? null : String(v);
}

/** Finds the closest YAML node to a path, for a line and column. */
function locate(doc: Document.Parsed, counter: LineCounter, path: Path, atKey: boolean): { line: number; column: number } | undefined {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    let node: unknown = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true);
    // For an unknown or misspelt key the key node is the better place to point at.
    if (atKey && n === path.length && n > 0) {
      const parent = doc.getIn(path.slice(0, -1), true);
      const key = yaml().isMap(parent) ? parent.items.find((it) => yaml().isScalar(it.key) && it.key.value === path[path.length - 1])?.key : undefined;
      if (yaml().isScalar(key) && key.range) node = key;
    }
    const range = (node as { range?: readonly number[] | null } | undefined)?.range;
    if (node && typeof node === 'object' && range) return at(counter, range[0]!);
  }
  return undefined;
}

// A small schema language for the manifest. One description of each field
// gives three things: validation with errors that name the field, the
// normalized value (defaults filled in, durations in ms), and the JSON form
// that `keel build` writes and keel-init reads back.

export type PathPart = string | number;
export type Path = readonly PathPart[];

export interface Issue {
  path: Path;
  message: string;
  /** Point at the key rather than the value (an unknown or misspelt field). */
  atKey?: boolean;
}

/** A message is a sentence or two; past this it is cut, whatever value slipped into it. */
const MAX_MESSAGE = 1000;

export class Issues {
  readonly list: Issue[] = [];
  add(path: Path, message: string, atKey = false): void {
    this.list.push({ path, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message, atKey });
  }
}

/** Sentinel: the value was invalid; an issue has been recorded. */
export const INVALID = Symbol('invalid');
export type Parsed<T> = T | typeof INVALID;

export interface Spec<T> {
  /** Human description of what is valid, used in messages. */
  readonly expected: string;
  parse(value: unknown, path: Path, issues: Issues): Parsed<T>;
  /** Turns a parsed value back into JSON that `parse` accepts unchanged. */
  serialize(value: T): unknown;
  jsonSchema(): Record<string, unknown>;
}

/** The longest piece of a value (or key) a message repeats: a manifest may hold megabytes in one string. */
export const MAX_SHOWN = 80;

/** A string cut to MAX_SHOWN characters, with "…" and the length it had when cut. */
export function clip(text: string): string {
  return text.length <= MAX_SHOWN ? text : `${text.slice(0, MAX_SHOWN)}… (${text.length} characters)`;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? clip(part) : `.${clip(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

export function show(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value.length <= MAX_SHOWN ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, MAX_SHOWN)).slice(0, -1)}…" (${value.length} characters)`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return clip(String(value));
}

function typeError(path: Path, issues: Issues, expected: string, value: unknown): typeof INVALID {
  issues.add(path, `${show(value)} is not ${expected}`);
  return INVALID;
}

export function str(opts: { pattern?: RegExp; patternHint?: string; nonEmpty?: boolean } = {}): Spec<string> {
  const expected = opts.patternHint ?? 'a string';
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value === 'number' && opts.pattern === undefined) return String(value);
      if (typeof value !== 'string') return typeError(path, issues, 'a string', value);
      if (opts.nonEmpty && value === '') return typeError(path, issues, 'a non-empty string', value);
      if (opts.pattern && !opts.pattern.test(value)) return typeError(path, issues, expected, value);
      return value;
    },
    serialize: (v) => v,
    jsonSchema: () => ({ type: 'string', ...(opts.pattern ? { pattern: opts.pattern.source } : {}) }),
  };
}

export function bool(): Spec<boolean> {
  return {
    expected: 'true or false',
    parse(value, path, issues) {
      if (typeof value !== 'boolean') return typeError(path, issues, 'true or false', value);
      return value;
    },
    serialize: (v) => v,
    jsonSchema: () => ({ type: 'boolean' }),
  };
}

export function int(opts: { min?: number; max?: number } = {}): Spec<number> {
  const range =
    opts.min !== undefined && opts.max !== undefined
      ? ` from ${opts.min} to ${opts.max}`
      : opts.min !== undefined
        ? ` of at least ${opts.min}`
        : '';
  const expected = `a whole number${range}`;
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value !== 'number' || !Number.isInteger(value)) return typeError(path, issues, expected, value);
      if ((opts.min !== undefined && value < opts.min) || (opts.max !== undefined && value > opts.max))
        return typeError(path, issues, expected, value);
      return value;
    },
    serialize: (v) => v,
    jsonSchema: () => ({ type: 'integer', ...(opts.min !== undefined ? { minimum: opts.min } : {}), ...(opts.max !== undefined ? { maximum: opts.max } : {}) }),
  };
}

export function oneOf<T extends string>(values: readonly T[]): Spec<T> {
  const expected = `one of ${values.join(', ')}`;
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value !== 'string' || !(values as readonly string[]).includes(value))
        return typeError(path, issues, expected, value);
      return value as T;
    },
    serialize: (v) => v,
    jsonSchema: () => ({ enum: [...values] }),
  };
}

/** An octal file mode: "0644", "644", or a number (YAML reads 0644 as octal). */
export function fileMode(): Spec<number> {
  const expected = 'a file mode such as "0644"';
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o7777) return value;
      if (typeof value === 'string' && /^0?[0-7]{3,4}$/.test(value)) return parseInt(value, 8);
      return typeError(path, issues, expected, value);
    },
    serialize: (v) => `0${v.toString(8).padStart(3, '0')}`,
    jsonSchema: () => ({ oneOf: [{ type: 'string', pattern: '^0?[0-7]{3,4}$' }, { type: 'integer', minimum: 0, maximum: 4095 }] }),
  };
}

export function list<T>(item: Spec<T>): Spec<T[]> {
  return {
    expected: `a list of ${item.expected}`,
    parse(value, path, issues) {
      if (value === null) return [];
      if (!Array.isArray(value)) return typeError(path, issues, 'a list', value);
      const out: T[] = [];
      let ok = true;
      value.forEach((v, i) => {
        const p = item.parse(v, [...path, i], issues);
        if (p === INVALID) ok = false;
        else out.push(p);
      });
      return ok ? out : INVALID;
    },
    serialize: (v) => v.map((x) => item.serialize(x)),
    jsonSchema: () => ({ type: 'array', items: item.jsonSchema() }),
  };
}

export function stringMap(): Spec<Record<string, string>> {
  return {
    expected: 'a mapping of names to strings',
    parse(value, path, issues) {
      if (value === null) return {};
      if (typeof value !== 'object' || Array.isArray(value)) return typeError(path, issues, 'a mapping', value);
      const out: Record<string, string> = {};
      let ok = true;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        // defineProperty: a key named __proto__ is a key like any other, never the prototype.
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') Object.defineProperty(out, k, { value: String(v), enumerable: true, writable: true, configurable: true });
        else {
          typeError([...path, k], issues, 'a string', v);
          ok = false;
        }
      }
      return ok ? out : INVALID;
    },
    serialize: (v) => ({ ...v }),
    jsonSchema: () => ({ type: 'object', additionalProperties: { type: 'string' } }),
  };
}

export interface FieldOptions<T> {
  required?: boolean;
  default?: T;
  description?: string;
}

/** A field of an object; `Present` says whether the parsed value always has it (required or defaulted). */
export interface Field<T, Present extends boolean = boolean> {
  spec: Spec<T>;
  options: FieldOptions<T>;
  readonly present?: Present;
}

export function field<T>(spec: Spec<T>, options: FieldOptions<T> & ({ required: true } | { default: T })): Field<T, true>;
export function field<T>(spec: Spec<T>, options?: FieldOptions<T>): Field<T, false>;
export function field<T>(spec: Spec<T>, options: FieldOptions<T> = {}): Field<T> {
  return { spec, options };
}

/** A field that is recognised but refused with a fix, e.g. one keel does not support yet. */
export function unsupported(reason: string): Field<never, false> {
  return {
    spec: {
      expected: reason,
      parse(_value, path, issues) {
        issues.add(path, reason);
        return INVALID;
      },
      serialize: () => undefined,
      jsonSchema: () => ({ description: reason, not: {} }),
    },
    options: {},
  };
}

// Field<T> is invariant in T (parse returns T, serialize takes T), so a map of
// fields of different types can only be typed with `any` here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fields = Record<string, Field<any>>;
type FieldValue<F> = F extends Field<infer T> ? T : never;
type Flatten<T> = { [K in keyof T]: T[K] };
export type ObjectOf<F extends Fields> = Flatten<
  { [K in keyof F as F[K] extends Field<unknown, true> ? K : never]: FieldValue<F[K]> } & {
    [K in keyof F as F[K] extends Field<unknown, true> ? never : K]?: FieldValue<F[K]>;
  }
>;

/** Edit distance, for "did you mean" hints on unknown fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function suggest(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  // The distance is at least the difference in length: a long name has no near match, and costs length × length to compare.
  if (name.length > MAX_SHOWN) return '';
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? `; did you mean "${best}"?` : '';
}

export function object<F extends Fields>(fields: F, opts: { description?: string } = {}): Spec<ObjectOf<F>> {
  const names = Object.keys(fields);
  return {
    expected: 'a mapping',
    parse(value, path, issues) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return typeError(path, issues, 'a mapping', value);
      const input = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(fields, key)) {
          issues.add([...path, key], `unknown field${suggest(key, names)}${names.length <= 10 ? ` (valid fields: ${names.join(', ')})` : ' ("keel schema" lists the valid fields)'}`, true);
          ok = false;
        }
      }
      for (const [name, f] of Object.entries(fields)) {
        const raw = input[name];
        if (raw === undefined) {
          if (f.options.required) {
            issues.add([...path, name], `is required (${f.spec.expected})`);
            ok = false;
          } else if (f.options.default !== undefined) out[name] = f.options.default;
          continue;
        }
        const p = f.spec.parse(raw, [...path, name], issues);
        if (p === INVALID) ok = false;
        else out[name] = p;
      }
      return ok ? (out as ObjectOf<F>) : INVALID;
    },
    serialize(v) {
      const out: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(fields)) {
        const x = (v as Record<string, unknown>)[name];
        if (x !== undefined) out[name] = f.spec.serialize(x);
      }
      return out;
    },
    jsonSchema() {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [name, f] of Object.entries(fields)) {
        properties[name] = { ...f.spec.jsonSchema(), ...(f.options.description ? { description: f.options.description } : {}) };
        if (f.options.required) required.push(name);
      }
      return {
        type: 'object',
        ...(opts.description ? { description: opts.description } : {}),
        properties,
        additionalProperties: false,
        ...(required.length ? { required } : {}),
      };
    },
  };
}

/** Wraps a spec with a check that runs on the parsed value. */
export function refine<T>(spec: Spec<T>, check: (value: T) => string | undefined): Spec<T> {
  return {
    ...spec,
    parse(value, path, issues) {
      const p = spec.parse(value, path, issues);
      if (p === INVALID) return p;
      const problem = check(p);
      if (problem) {
        issues.add(path, problem);
        return INVALID;
      }
      return p;
    },
  };
}

/** A value that may take either of two JSON-native forms (tried in order; the first that parses wins). */
export function either<A, B>(a: Spec<A>, b: Spec<B>, expected = `${a.expected} or ${b.expected}`): Spec<A | B> {
  return {
    expected,
    parse(value, path, issues) {
      for (const spec of [a, b] as Array<Spec<A | B>>) {
        const scratch = new Issues();
        const p = spec.parse(value, path, scratch);
        if (p !== INVALID && scratch.list.length === 0) return p;
      }
      issues.add(path, `${show(value)} is not ${expected}`);
      return INVALID;
    },
    serialize: (v) => v,
    jsonSchema: () => ({ anyOf: [a.jsonSchema(), b.jsonSchema()] }),
  };
}

/** A string checked (and left as written) by a parser that returns an error message or undefined. */
export function checkedString(expected: string, check: (s: string) => string | undefined): Spec<string> {
  return fromString(expected, (s) => check(s) ?? { value: s }, (v) => v);
}

/** A value read by a parser that takes any JSON value and returns undefined for what it cannot read. */
export function parsedValue<T>(expected: string, parse: (value: unknown) => T | undefined, serialize: (value: T) => unknown, jsonSchema: () => Record<string, unknown>): Spec<T> {
  return {
    expected,
    parse(value, path, issues) {
      const parsed = parse(value);
      if (parsed === undefined) {
        issues.add(path, `${show(value)} is not ${expected}`);
        return INVALID;
      }
      return parsed;
    },
    serialize,
    jsonSchema,
  };
}

export function num(opts: { min?: number; max?: number } = {}): Spec<number> {
  const expected = `a number${opts.min !== undefined ? ` from ${opts.min}` : ''}${opts.max !== undefined ? ` to ${opts.max}` : ''}`;
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value !== 'number' || !Number.isFinite(value) || (opts.min !== undefined && value < opts.min) || (opts.max !== undefined && value > opts.max)) {
        issues.add(path, `${show(value)} is not ${expected}`);
        return INVALID;
      }
      return value;
    },
    serialize: (v) => v,
    jsonSchema: () => ({ type: 'number', ...(opts.min !== undefined ? { minimum: opts.min } : {}), ...(opts.max !== undefined ? { maximum: opts.max } : {}) }),
  };
}

/**
 * A value written as a compact string (a bind, a limit, a restart policy),
 * parsed once into its typed form. `parse` returns the value, or a string
 * saying what is wrong; `format` writes the value back so that `parse` reads
 * it unchanged (the normalized JSON holds the formatted string).
 */
export function stringForm<T extends object | number>(expected: string, parse: (s: string) => T | string, format: (value: T) => string, schema: Record<string, unknown> = { type: 'string' }): Spec<T> {
  return fromString(expected, (s) => {
    const parsed = parse(s);
    return typeof parsed === 'string' ? parsed : { value: parsed };
  }, format, schema);
}

/** The one way a string field is read: not a string, or a problem its parser names, is an issue at its path. */
function fromString<T>(expected: string, parse: (s: string) => { value: T } | string, format: (value: T) => string, schema: Record<string, unknown> = { type: 'string' }): Spec<T> {
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value !== 'string') {
        issues.add(path, `${show(value)} is not ${expected}`);
        return INVALID;
      }
      const parsed = parse(value);
      if (typeof parsed === 'string') {
        issues.add(path, `${show(value)}: ${parsed} (expected ${expected})`);
        return INVALID;
      }
      return parsed.value;
    },
    serialize: format,
    jsonSchema: () => ({ ...schema, description: expected }),
  };
}

/** A spec whose parsed value is reshaped (e.g. a shorthand turned into its full form); `back` gives what `spec` serializes. */
export function transform<A, B>(spec: Spec<A>, to: (a: A) => B, back: (b: B) => A): Spec<B> {
  return {
    expected: spec.expected,
    parse(value, path, issues) {
      const p = spec.parse(value, path, issues);
      return p === INVALID ? INVALID : to(p);
    },
    serialize: (v) => spec.serialize(back(v)),
    jsonSchema: () => spec.jsonSchema(),
  };
}

/** The value an object spec gives when every field is left out: its defaults, written once in its fields. */
export function defaultsOf<T>(spec: Spec<T>): T {
  const issues = new Issues();
  const value = spec.parse({}, [], issues);
  if (value === INVALID || issues.list.length) throw new Error(`defaultsOf: the spec has required fields (${issues.list.map((i) => formatPath(i.path)).join(', ')})`);
  return value;
}

/** A field of an object spec that, when left out, takes the defaults of the object's own fields. */
export function defaulted<T>(spec: Spec<T>, options: { description?: string } = {}): Field<T, true> {
  return field(spec, { ...options, default: defaultsOf(spec) });
}

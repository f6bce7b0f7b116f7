// Parsing a verb's arguments from its table entry (verb-spec.ts), the way
// docker and kubectl read them: options and arguments in any order, --opt=V
// and --opt V alike (a value is taken whole, even when it starts with "-",
// so --qemu-arg -nic works), -o V and -oV, "--" ends the options, and "-"
// alone is an argument (standard input). A mistake is one UsageError naming
// the option; --help anywhere wins over any mistake.
import { suggest } from '../../model/schema.js';
import { synopsis } from './help.js';
import { UsageError } from './usage-error.js';
import { allOptions, type OptionSpec, type VerbSpec } from './verb-spec.js';

export class ParsedArgs {
  constructor(
    readonly help: boolean,
    readonly positionals: string[],
    private readonly values: Map<string, string[]>,
    private readonly spec: VerbSpec,
  ) {}

  private option(name: string): OptionSpec {
    const o = allOptions(this.spec).find((x) => x.name === name);
    if (!o) throw new Error(`keel ${this.spec.name} has no option --${name}`); // a bug in keel, not a usage error
    return o;
  }

  /** The last value given, else the default. */
  string(name: string): string | undefined {
    return this.values.get(name)?.at(-1) ?? this.option(name).default;
  }

  /** Every value given, in order. */
  strings(name: string): string[] {
    this.option(name);
    return this.values.get(name) ?? [];
  }

  flag(name: string): boolean {
    this.option(name);
    return this.values.has(name);
  }
}

function findLong(spec: VerbSpec, name: string): OptionSpec {
  const options = allOptions(spec);
  const o = options.find((x) => x.name === name);
  if (!o && name === 'vm') throw new UsageError('--vm goes before the command: keel --vm NAME ' + spec.name + ' …', spec.name);
  if (!o) throw new UsageError(`unknown option --${name}${suggest(name, options.map((x) => x.name)).replace(/^; did you mean "(.*)"\?$/, ' (did you mean --$1?)')}`, spec.name);
  return o;
}

function findShort(spec: VerbSpec, letter: string): OptionSpec {
  const o = allOptions(spec).find((x) => x.short === letter);
  if (!o) throw new UsageError(`unknown option -${letter}`, spec.name);
  return o;
}

/** Words that go on as arguments, and what options took, one word at a time. */
class Scanner {
  readonly positionals: string[] = [];
  readonly values = new Map<string, string[]>();
  help = false;
  problem: UsageError | undefined;

  constructor(private readonly spec: VerbSpec) {}

  private set(o: OptionSpec, value: string | undefined): void {
    if (o.name === 'help') this.help = true;
    if (o.value === undefined) {
      if (value !== undefined) throw new UsageError(`--${o.name} takes no value`, this.spec.name);
      this.values.set(o.name, ['']);
      return;
    }
    if (value === undefined) throw new UsageError(`--${o.name} needs a value (${o.value})`, this.spec.name);
    if (value === '' && !o.emptyOk) throw new UsageError(`--${o.name} was given an empty value; it needs ${o.value} (an unset shell variable?)`, this.spec.name);
    // A repeatable option with a list of values also takes them comma-separated: --format tar,iso-bios.
    const parts = o.multiple && o.choices ? value.split(',') : [value];
    const bad = o.choices ? parts.find((p) => !o.choices!.includes(p)) : undefined;
    // Own keys only: "constructor" or "toString" must not find Object's.
    const declined = o.declined && bad !== undefined && Object.hasOwn(o.declined, bad) ? o.declined[bad] : undefined;
    if (bad !== undefined) throw new UsageError(`--${o.name} ${bad}: ${declined ?? `expected one of ${o.choices!.join(', ')}`}`, this.spec.name);
    const list = this.values.get(o.name) ?? [];
    this.values.set(o.name, o.multiple ? [...list, ...parts] : [value]);
  }

  /** Reads words[i] (and the value after it, if it takes one); returns how many words it used. */
  word(words: readonly string[], i: number): number {
    const w = words[i]!;
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const o = findLong(this.spec, eq < 0 ? w.slice(2) : w.slice(2, eq));
      if (eq >= 0) return (this.set(o, w.slice(eq + 1)), 1);
      if (o.value === undefined) return (this.set(o, undefined), 1);
      this.set(o, words[i + 1]);
      return 2;
    }
    // -mem 1024, -format=tar: a long option with one dash, as Go's flag package (and so linuxkit) reads them.
    const single = w.slice(1).split('=')[0]!;
    if (single.length > 1 && allOptions(this.spec).some((x) => x.name === single)) return this.word([...words.slice(0, i), `-${w}`, ...words.slice(i + 1)], i);
    // -abc: flags a and b, then c, which may take the rest of the word or the next word as its value.
    for (let j = 1; j < w.length; j++) {
      const o = findShort(this.spec, w[j]!);
      if (o.value === undefined) {
        this.set(o, undefined);
        continue;
      }
      // -o=DIR as -oDIR: the "=" is the habit of --output=DIR, not part of the folder's name.
      if (j + 1 < w.length) return (this.set(o, w.slice(w[j + 1] === '=' ? j + 2 : j + 1)), 1);
      this.set(o, words[i + 1]);
      return 2;
    }
    return 1;
  }
}

function checkCount(spec: VerbSpec, positionals: readonly string[]): void {
  const usage = `usage: ${synopsis(spec)}`;
  const required = spec.args.split(' ').filter((w) => w && !w.startsWith('['));
  if (positionals.length < spec.min) throw new UsageError(`missing ${required.slice(positionals.length).join(' ') || 'arguments'} (${usage})`, spec.name);
  if (spec.max !== undefined && positionals.length > spec.max) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[spec.max])} (${usage})`, spec.name);
}

export function parseVerbArgs(spec: VerbSpec, argv: readonly string[]): ParsedArgs {
  const s = new Scanner(spec);
  let i = 0;
  while (i < argv.length) {
    const w = argv[i]!;
    const rest = spec.restFrom !== undefined && s.positionals.length >= spec.restFrom;
    if (rest && w === '--' && s.positionals.length === spec.restFrom && argv[i - 1] !== '--') {
      // exec web -- ls -l (kubectl's habit): the "--" that starts the command is not part of it.
      i++;
    } else if (rest || w === '-' || !w.startsWith('-')) {
      s.positionals.push(w);
      i++;
    } else if (w === '--') {
      s.positionals.push(...argv.slice(i + 1));
      break;
    } else {
      try {
        i += s.word(argv, i);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        s.problem ??= err;
        i++;
      }
    }
  }
  if (s.help) return new ParsedArgs(true, s.positionals, s.values, spec);
  if (s.problem) throw s.problem;
  checkCount(spec, s.positionals);
  return new ParsedArgs(false, s.positionals, s.values, spec);
}

// What a verb of the keel CLI is, as one table entry: its synopsis, its
// options and arguments, and one example. The same entry parses the verb's
// arguments (args.ts), prints its --help (help.ts) and drives shell
// completion (pkg/cli/completion.ts), so the three cannot drift apart.

/** What a shell completes in a place: files, folders, running VMs, services of a running keel, or nothing. */
export type Completion = 'file' | 'manifest' | 'dir' | 'vm' | 'service' | 'none';

export interface OptionSpec {
  /** The long name, without dashes: "output" for --output. */
  name: string;
  /** The one-letter name, without the dash: "o" for -o. */
  short?: string;
  /** The value's placeholder ("DIR"); an option without one is a flag. */
  value?: string;
  /** May be given more than once; every value is kept, in order. */
  multiple?: boolean;
  /** The value when the option is not given, as help shows it. */
  default?: string;
  /** An empty value means something ("--data ''": no instance data); else an empty value is a mistake, most often an unset shell variable. */
  emptyOk?: boolean;
  /** The values it takes, when they are a fixed list (help and completion show them). */
  choices?: readonly string[];
  /** Values it knows but refuses, each with what to say instead of the list of choices (another tool's spelling, say). */
  declined?: Readonly<Record<string, string>>;
  complete?: Completion;
  help: string;
}

export interface VerbSpec {
  /** What the user types after keel: "build", "boot-report", "kernel". */
  name: string;
  /** One line for `keel help`. */
  summary: string;
  /** The arguments after the options, as the synopsis writes them: "NAME [CMD...]". */
  args: string;
  /** How many arguments it takes. */
  min: number;
  /** At most this many; undefined for any number. */
  max?: number;
  /** From this argument on, every word is an argument, options included (exec NAME CMD...: the command's own options). */
  restFrom?: number;
  /** What the arguments are, for completion. */
  complete?: Completion;
  options: OptionSpec[];
  /** A few sentences for --help, after the synopsis. */
  description: string;
  /** One command line (or a few lines: a command and what it prints) for --help. */
  example: string;
  /** Talks to a running keel (takes --socket, and keel --vm VM VERB). */
  control: boolean;
}

/** --help and -h, which every verb takes. */
export const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', help: 'show this help' };

/** --socket, which every verb that talks to a running keel takes. */
export const SOCKET_OPTION: OptionSpec = { name: 'socket', value: 'PATH', help: 'the control socket (default $KEEL_SOCKET, else /run/keel/keel.sock)', complete: 'file' };

/** Every option a verb takes, --help included, in the order help lists them. */
export function allOptions(spec: VerbSpec): OptionSpec[] {
  return [...spec.options, ...(spec.control ? [SOCKET_OPTION] : []), HELP_OPTION];
}

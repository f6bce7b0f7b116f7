// The keel CLI (dist/keel.js): build, run and validate images on the host,
// and the verbs that talk to a running keel (api/commands), on the host
// against a VM (keel --vm VM VERB) or inside the image. Every verb is an
// entry of one table (host-specs.ts and api/commands/control-specs.ts) that
// parses its arguments and writes its help.
import { readFileSync } from 'node:fs';
import { parseVerbArgs, type ParsedArgs } from '../../api/commands/args.js';
import { summaryHelp, verbHelp } from '../../api/commands/help.js';
import { UsageError } from '../../api/commands/usage-error.js';
import { runControl } from '../../api/commands/verbs.js';
import { ApiError, ApiUnreachable } from '../../api/client.js';
import { jsonSchema, ManifestError } from '../../model/index.js';
import { hashPassword } from '../../model/password.js';
import { suggest } from '../../model/schema.js';
import { VERSION } from '../../model/version.js';
import { defaultDistDir } from '../image/image.js';
import { INIT_DIR, loadInitImage } from '../image/init-image.js';
import type { Arch } from '../image/arch.js';
import { BuildError, fetchKernelPackage } from '../image/kernel.js';
import { kernelPackages } from '../image/kernel-image.js';
import { terminalProgress } from '../image/sources/progress.js';
import { vmAnswers, vmApiSocket } from '../run/vm-dir.js';
import { cmdBuild } from './build.js';
import { completionScript } from './completion.js';
import { ALL_SPECS, findSpec } from './host-specs.js';
import { NeedsRoot } from './root.js';
import { cmdRun } from './run.js';
import { out, err } from './output.js';
import { cmdValidate } from './validate.js';
import { vmInspect } from './vm-inspect.js';

type HostRun = (args: ParsedArgs) => number | Promise<number>;

const HOST_RUNS: Record<string, HostRun> = {
  build: cmdBuild,
  run: cmdRun,
  validate: cmdValidate,
  schema() {
    out(JSON.stringify(jsonSchema(), null, 2));
    return 0;
  },
  'init-image'(args) {
    const tag = args.string('tag')!;
    const archive = args.string('output');
    const r = loadInitImage(defaultDistDir(), tag, archive);
    out(`loaded ${tag} (${r.id}; ${(r.layerBytes / 2 ** 20).toFixed(1)} MiB in ${INIT_DIR})${archive ? `; archive ${r.archive}` : ''}`);
    return 0;
  },
  async kernel(args) {
    const [sub, pkg] = args.positionals;
    if (sub !== 'fetch') throw new UsageError(`unknown kernel command "${sub}" (keel kernel fetch [--arch ARCH] [PACKAGE])`, 'kernel');
    const arch = args.string('arch') as Arch | undefined;
    const packages = kernelPackages(arch);
    const progress = terminalProgress();
    const k = await fetchKernelPackage(pkg ?? packages.fallback, progress, packages.apt).finally(() => progress.clear());
    out(`${k.source}: ${k.image}`);
    return 0;
  },
  password() {
    const text = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (text === '') throw new UsageError('reads the password on standard input (e.g. printf %s "$PW" | keel password)', 'password');
    out(hashPassword(text));
    return 0;
  },
  completion({ positionals: [shell] }) {
    if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`no completion for ${JSON.stringify(shell)}: bash or zsh`, 'completion');
    out(completionScript(shell, ALL_SPECS));
    return 0;
  },
  version() {
    out(`keel ${VERSION}`);
    return 0;
  },
  help({ positionals: [verb] }) {
    if (verb === undefined) return (out(summaryHelp(ALL_SPECS)), 0);
    const spec = findSpec(verb);
    if (!spec) throw unknownCommand(verb);
    out(verbHelp(spec));
    return 0;
  },
};

function unknownCommand(command: string): UsageError {
  const hint = suggest(command, ALL_SPECS.map((v) => v.name)).replace(/^; (.*)$/, ' ($1)');
  return new UsageError(`unknown command "${command}"${hint}`);
}

/** keel --vm VM VERB …: a control verb against a VM that keel run started; inspect without a name is the VM itself. */
async function dispatchVm(argv: string[]): Promise<number> {
  const name = argv[0] === '--vm' ? argv[1] : argv[0]!.slice('--vm='.length);
  const [verb, ...rest] = argv.slice(argv[0] === '--vm' ? 2 : 1);
  if (!name) throw new UsageError('--vm needs the name of a VM that keel run started (keel --vm VM COMMAND)');
  if (verb === undefined) throw new UsageError(`--vm ${name}: which command? (keel --vm ${name} ps, logs NAME, inspect, …)`);
  const spec = findSpec(verb);
  if (!spec) throw unknownCommand(verb);
  if (!spec.control) throw new UsageError(`${verb} does not talk to a running keel, so --vm does not apply to it`, verb);
  if (verb === 'inspect') {
    const args = parseVerbArgs(spec, rest);
    if (!args.help && args.positionals.length === 0) return vmInspect(name);
  }
  return runControl(verb, rest, { socket: () => vmApiSocket(name), ready: (socket) => vmAnswers(name, socket) });
}

async function dispatch(argv: string[]): Promise<number> {
  if (argv[0] === '--vm' || argv[0]?.startsWith('--vm=')) return dispatchVm(argv);
  const [command, ...rest] = argv;
  if (command === undefined) {
    err(summaryHelp(ALL_SPECS));
    return 2;
  }
  if (command === '--help' || command === '-h') return HOST_RUNS.help!(parseVerbArgs(findSpec('help')!, rest));
  if (command === '--version') return HOST_RUNS.version!(parseVerbArgs(findSpec('version')!, []));
  if (command.startsWith('-')) throw new UsageError(`unknown option ${command} (options go after the command; only --vm, --help and --version come before it)`);
  const spec = findSpec(command);
  if (!spec) throw unknownCommand(command);
  if (spec.control) return runControl(command, rest);
  // linuxkit run qemu IMAGE: keel run has one backend, so the habit gets a word rather than "unexpected argument".
  if (command === 'run' && LINUXKIT_BACKENDS.includes(rest[0] ?? '') && rest.slice(1).some((w) => !w.startsWith('-'))) {
    throw new UsageError(`keel run takes no backend ("${rest[0]}"): it boots with qemu; give the image alone, keel run IMAGE`, 'run');
  }
  const args = parseVerbArgs(spec, rest);
  if (args.help) {
    out(verbHelp(spec));
    return 0;
  }
  return HOST_RUNS[command]!(args);
}

/** The backends linuxkit run takes as its first word. */
const LINUXKIT_BACKENDS = ['qemu', 'hyperkit', 'vbox', 'vmware', 'hyperv', 'gcp', 'aws', 'azure', 'openstack', 'packet', 'equinixmetal', 'scaleway', 'vcenter', 'virtualization'];

/** What went wrong, in one place: the message the user reads, and the exit code docs/cli.md documents. */
function report(e: unknown): number {
  if (e instanceof UsageError) return (err(e.cliLine()), 2);
  if (e instanceof NeedsRoot) return (err(e.message), 4);
  if (e instanceof ApiUnreachable) return (err(`keel: ${e.message}`), 3);
  if (e instanceof ManifestError) return (err(e.message), 1);
  if (e instanceof BuildError || e instanceof ApiError) return (err(`keel: ${e.message}`), 1);
  // A file the system refused (a folder that is not there, a read-only one, a full disk) is not keel's bug: its message names the path and why.
  const sys = e as NodeJS.ErrnoException;
  if (sys instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string') return (err(`keel: ${sys.message}`), 1);
  err(`keel: internal error: ${(e as Error).stack ?? String(e)}`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    return report(e);
  }
}

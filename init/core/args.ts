// keel-init's command line. In machine mode the kernel passes its unknown
// command-line words as arguments too, so unknown words are ignored, not fatal.
import { DEFAULT_CGROUP_PARENT, DEFAULT_STATE_DIR, IMAGE_MANIFEST } from '../../model/layout.js';

export type Mode = 'machine' | 'namespace' | 'container' | 'auto';

export interface InitArgs {
  manifest: string;
  /** --manifest was given (else a container's init looks for CONTAINER_MANIFEST first). */
  manifestSet: boolean;
  stateDir: string;
  /** The cgroup under which containers get their own (cgroupsPath's default is PARENT/NAME). */
  cgroupParent: string;
  mode: Mode;
  help: boolean;
  version: boolean;
  /** Words that were not keel flags (kernel arguments, in machine mode). */
  ignored: string[];
  /** A container's CMD: the words after "--", else from the first word that is not a flag (container mode only). */
  command: string[];
  errors: string[];
}

export const USAGE = `usage: keel-init [--manifest PATH] [--state-dir DIR] [--cgroup-parent PATH] [--mode machine|namespace|container|auto] [-- COMMAND ARGS...]

  --manifest PATH   manifest to run: the normalized JSON from keel build, or a keel.yml
                    (default /etc/keel/manifest.json; a container's init: /etc/keel/keel.yml)
  --state-dir DIR   where keel keeps its log and state (default /run/keel); one keel
                    per directory: a second keel-init given a directory that a live
                    keel holds exits 1
  --cgroup-parent PATH
                    the cgroup containers get theirs under (default /keel); several
                    keels on one host in namespace mode each need their own
  --mode MODE       machine: set up the machine (PID 1 of a booting kernel);
                    namespace: skip machine set-up;
                    container: a container image's init (signals, exit code and output as
                    docker run expects; COMMAND becomes the main service);
                    auto (default) decides from /proc, /.dockerenv and /run/.containerenv
`;

export function parseArgs(argv: readonly string[]): InitArgs {
  const out: InitArgs = { manifest: IMAGE_MANIFEST, manifestSet: false, stateDir: DEFAULT_STATE_DIR, cgroupParent: DEFAULT_CGROUP_PARENT, mode: 'auto', help: false, version: false, ignored: [], command: [], errors: [] };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      out.command = argv.slice(i + 1);
      break;
    }
    const eq = word.indexOf('=');
    const flag = word.startsWith('--') && eq > 0 ? word.slice(0, eq) : word;
    const inline = word.startsWith('--') && eq > 0 ? word.slice(eq + 1) : undefined;
    const value = (): string | undefined => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        out.errors.push(`${flag} needs a value`);
        return undefined;
      }
      i++;
      return next;
    };
    switch (flag) {
      case '--manifest': {
        const v = value();
        if (v !== undefined) {
          out.manifest = v;
          out.manifestSet = true;
        }
        break;
      }
      case '--state-dir': {
        const v = value();
        if (v !== undefined) out.stateDir = v;
        break;
      }
      case '--cgroup-parent': {
        const v = value();
        if (v !== undefined && /^\/[^/]/.test(v) && !v.split('/').includes('..')) out.cgroupParent = v.replace(/\/+$/, '');
        else if (v !== undefined) out.errors.push(`--cgroup-parent ${v}: expected an absolute cgroup path below the root, e.g. /keel`);
        break;
      }
      case '--mode': {
        const v = value();
        if (v === 'machine' || v === 'namespace' || v === 'container' || v === 'auto') out.mode = v;
        else if (v !== undefined) out.errors.push(`--mode ${v}: expected machine, namespace, container or auto`);
        break;
      }
      case '--help':
      case '-h':
        out.help = true;
        break;
      case '--version':
        out.version = true;
        break;
      default:
        out.ignored.push(word);
    }
  }
  return out;
}

/** A container's CMD without "--" (ENTRYPOINT ["keel-init"], CMD ["sh"]): the ignored words from the first that is not a flag. */
export function commandOf(args: InitArgs): string[] {
  if (args.command.length > 0) return args.command;
  const first = args.ignored.findIndex((w) => !w.startsWith('-'));
  return first < 0 ? [] : args.ignored.slice(first);
}

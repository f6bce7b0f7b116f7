// keel-init's command line. In machine mode the kernel passes its unknown
// command-line words as arguments too, so unknown words are ignored, not fatal.
import { DEFAULT_STATE_DIR, IMAGE_MANIFEST } from '../../model/layout.js';

export type Mode = 'machine' | 'namespace' | 'auto';

export interface InitArgs {
  manifest: string;
  stateDir: string;
  mode: Mode;
  help: boolean;
  version: boolean;
  /** Words that were not keel flags (kernel arguments, in machine mode). */
  ignored: string[];
  errors: string[];
}

export const USAGE = `usage: keel-init [--manifest PATH] [--state-dir DIR] [--mode machine|namespace|auto]

  --manifest PATH   manifest to run: the normalized JSON from keel build, or a keel.yml
                    (default /etc/keel/manifest.json)
  --state-dir DIR   where keel keeps its log and state (default /run/keel)
  --mode MODE       machine: set up the machine (PID 1 of a booting kernel);
                    namespace: skip machine set-up; auto (default) decides from /proc
`;

export function parseArgs(argv: readonly string[]): InitArgs {
  const out: InitArgs = { manifest: IMAGE_MANIFEST, stateDir: DEFAULT_STATE_DIR, mode: 'auto', help: false, version: false, ignored: [], errors: [] };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
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
        if (v !== undefined) out.manifest = v;
        break;
      }
      case '--state-dir': {
        const v = value();
        if (v !== undefined) out.stateDir = v;
        break;
      }
      case '--mode': {
        const v = value();
        if (v === 'machine' || v === 'namespace' || v === 'auto') out.mode = v;
        else if (v !== undefined) out.errors.push(`--mode ${v}: expected machine, namespace or auto`);
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

// Loading the kernel modules the image carries, with finit_module(2) on
// threads of libuv's pool: boot goes on (console, log, control API, manifest)
// while the kernel links and initialises them, and what needs them waits.
// Several load at once, each as soon as the modules it needs are in: a
// module's init often sleeps (ata_piix waits for its ports to reset, and the
// kernel holds finit_module until the probing it started is done), and one
// module sleeping must not hold up the others.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { MODULE_LIST } from '../../model/layout.js';
import { parseModuleList, type ModuleToLoad } from '../../model/module-list.js';
import type { Sys } from '../core/sys.js';

export interface ModulesLoaded {
  loaded: number;
  failed: string[];
  /** The three that took longest, for the log. */
  slowest: Array<{ module: string; ms: number }>;
}

/** At most this many finit_module calls at once: the pool (8 threads) keeps room for file I/O and the power button's reader. */
const AT_ONCE = 4;

type Loaded = { ms: number; error?: NodeJS.ErrnoException };

export async function loadModules(sys: Sys, list = MODULE_LIST): Promise<ModulesLoaded> {
  if (!existsSync(list)) return { loaded: 0, failed: [], slowest: [] };
  const modules = parseModuleList(readFileSync(list, 'utf8'));
  const results = await loadInDependencyOrder(modules, async (path) => (await sys.finitModules([path]))[0]!);
  let loaded = 0;
  const failed: string[] = [];
  results.forEach((r, i) => {
    if (!r.error || r.error.code === 'EEXIST') loaded++; // EEXIST: built in or already loaded
    else failed.push(`${modules[i]!.path}: ${r.error.message}`);
  });
  const slowest = results
    .map((r, i) => ({ module: basename(modules[i]!.path, '.ko'), ms: Math.round(r.ms) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3);
  return { loaded, failed, slowest };
}

/**
 * Runs `load` for each module once every module it needs has been tried (a
 * module whose dependency failed is still tried, and its own error says why),
 * at most AT_ONCE at a time; a list that does not name dependencies is loaded
 * one after another. Resolves with the results in the list's order.
 */
export function loadInDependencyOrder(modules: readonly ModuleToLoad[], load: (path: string) => Promise<Loaded>): Promise<Loaded[]> {
  const results: Loaded[] = new Array(modules.length);
  const done = new Set<string>();
  const started = new Set<number>();
  const listed = new Set(modules.map((m) => m.path));
  let running = 0;
  let finished = 0;
  const ready = (i: number) => {
    const deps = modules[i]!.deps;
    if (deps === undefined) return modules.slice(0, i).every((m) => done.has(m.path));
    return deps.every((d) => done.has(d) || !listed.has(d)); // a dependency the list lacks is not waited for
  };
  return new Promise((resolve) => {
    const next = () => {
      if (finished === modules.length) return resolve(results);
      for (let i = 0; i < modules.length && running < AT_ONCE; i++) {
        if (started.has(i) || !ready(i)) continue;
        started.add(i);
        running++;
        const path = modules[i]!.path;
        load(path)
          .catch((err: NodeJS.ErrnoException): Loaded => ({ ms: 0, error: err }))
          .then((r) => {
            results[i] = r;
            done.add(path);
            finished++;
            running--;
            next();
          });
      }
    };
    next();
  });
}

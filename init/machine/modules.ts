// Loading the kernel modules the image carries, in the order keel build
// resolved (dependencies first), with finit_module(2) on a thread of
// libuv's pool: boot goes on (console, log, control API, manifest) while
// the kernel links and initialises them, and what needs them waits.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { MODULE_LIST } from '../../model/layout.js';
import type { Sys } from '../core/sys.js';

export interface ModulesLoaded {
  loaded: number;
  failed: string[];
  /** The three that took longest, for the log. */
  slowest: Array<{ module: string; ms: number }>;
}

export async function loadModules(sys: Sys, list = MODULE_LIST): Promise<ModulesLoaded> {
  if (!existsSync(list)) return { loaded: 0, failed: [], slowest: [] };
  const paths = readFileSync(list, 'utf8').split('\n').filter(Boolean);
  const results = await sys.finitModules(paths);
  let loaded = 0;
  const failed: string[] = [];
  results.forEach((r, i) => {
    if (!r.error || r.error.code === 'EEXIST') loaded++; // EEXIST: built in or already loaded
    else failed.push(`${paths[i]}: ${r.error.message}`);
  });
  const slowest = results
    .map((r, i) => ({ module: basename(paths[i]!, '.ko'), ms: Math.round(r.ms) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3);
  return { loaded, failed, slowest };
}

// Loading the kernel modules the image carries, in the order keel build
// resolved (dependencies first), with finit_module(2).
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { MODULE_LIST } from '../../model/layout.js';
import type { Sys } from '../core/sys.js';

export function loadModules(sys: Sys, list = MODULE_LIST): { loaded: number; failed: string[] } {
  if (!existsSync(list)) return { loaded: 0, failed: [] };
  let loaded = 0;
  const failed: string[] = [];
  for (const path of readFileSync(list, 'utf8').split('\n').filter(Boolean)) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      sys.finitModule(fd, '');
      loaded++;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') loaded++; // built in or already loaded
      else failed.push(`${path}: ${e.message}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return { loaded, failed };
}

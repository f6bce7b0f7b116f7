// The product's source files, for the tests that read the code itself.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const PRODUCT = ['model', 'events', 'runtime', 'services', 'api', 'init', 'pkg'];

/** Every non-test .ts (and .mjs) file below the product folders, repo-relative. */
export function productFiles(dir = ''): string[] {
  if (dir === '') return PRODUCT.flatMap((d) => productFiles(d));
  const out: string[] = [];
  for (const name of readdirSync(join(REPO, dir))) {
    const rel = `${dir}/${name}`;
    if (name === 'node_modules' || name === 'native') continue;
    if (statSync(join(REPO, rel)).isDirectory()) out.push(...productFiles(rel));
    else if (/\.(ts|mjs)$/.test(name) && !name.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

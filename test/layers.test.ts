// The layer rule, enforced: every import in the product code goes from a
// layer to one below it (or stays inside its own folder). docs/architecture.md
// states the same table; this test is what keeps it true.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { productFiles, REPO } from './helpers/sources.js';

/** Each layer, bottom to top, and the layers it may import. Siblings (same height) may not import each other. */
export const LAYERS: Record<string, readonly string[]> = {
  model: [],
  events: ['model'],
  runtime: ['model', 'events'],
  services: ['model', 'events', 'runtime'],
  api: ['model', 'events', 'runtime', 'services'],
  'init/core': ['model', 'events', 'runtime', 'services', 'api'],
  'init/machine': ['model', 'events', 'runtime', 'services', 'api', 'init/core'],
  'init/console': ['model', 'events', 'runtime', 'services', 'api', 'init/core'],
  'init/boot': ['model', 'events', 'runtime', 'services', 'api', 'init/core', 'init/machine', 'init/console'],
  'pkg/image': ['model', 'events', 'runtime'],
  'pkg/run': ['model', 'events', 'runtime', 'api', 'pkg/image'],
  'pkg/cli': ['model', 'events', 'runtime', 'api', 'pkg/image', 'pkg/run'],
};

/** Files at a folder's top level that belong to a layer inside it (the bundle entry points, and the build scripts beside them). */
const ENTRY_FILES: Record<string, string> = { 'init/entry.ts': 'init/boot', 'pkg/bundle.mjs': 'pkg/cli', 'pkg/cross-native.mjs': 'pkg/cli' };

function layerOf(file: string): string | undefined {
  if (ENTRY_FILES[file]) return ENTRY_FILES[file];
  return Object.keys(LAYERS)
    .filter((l) => file.startsWith(`${l}/`))
    .sort((a, b) => b.length - a.length)[0];
}

/** Relative import specifiers: static imports, re-exports and dynamic import(). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)) specs.push(m[2]!);
  return specs;
}

const files = productFiles();

describe('the layer rule', () => {
  it('puts every product file in a layer', () => {
    expect(files.filter((f) => layerOf(f) === undefined)).toEqual([]);
  });

  it('has no import from a layer to one above it or beside it', () => {
    const wrong: string[] = [];
    let crossing = 0;
    for (const file of files) {
      const from = layerOf(file)!;
      for (const spec of importsOf(file)) {
        const target = relative(REPO, resolve(REPO, dirname(file), spec));
        const to = layerOf(target.replace(/\.js$/, '.ts')) ?? layerOf(target);
        if (to === from) continue;
        crossing++;
        if (to === undefined || !LAYERS[from]!.includes(to)) wrong.push(`${file} (${from}) imports ${spec} (${to ?? 'outside every layer'})`);
      }
    }
    expect(wrong).toEqual([]);
    // The walk itself works: the product crosses layers in many places.
    expect(crossing).toBeGreaterThan(50);
  });

  it('is a strict order: no layer may import one that may import it', () => {
    for (const [layer, below] of Object.entries(LAYERS)) for (const b of below) expect(LAYERS[b]!.includes(layer)).toBe(false);
  });
});

// A TypeScript snippet that imports keel's own modules, bundled into one
// script that plain node runs: for code that must run in a process of its
// own (PID 1 of a namespace, a session of its own), outside the test worker.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

/** Bundles `source` (its imports by absolute path) into NAME.mjs in a folder of its own (the caller removes it) and returns that file's path. */
export function bundleScript(name: string, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), `keel-${name}-`));
  const entry = join(dir, `${name}.ts`);
  writeFileSync(entry, source);
  const script = join(dir, `${name}.mjs`);
  buildSync({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', format: 'esm', logLevel: 'error' });
  return script;
}

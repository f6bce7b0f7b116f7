// A TypeScript snippet that imports keel's own modules, bundled into one
// script that plain node runs: for code that must run in a process of its
// own (PID 1 of a namespace, a session of its own), outside the test worker.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

/** Bundles `source` (its imports by absolute path) into DIR/NAME.mjs and returns that path. */
export function bundleScript(dir: string, name: string, source: string): string {
  const entry = join(dir, `${name}.ts`);
  writeFileSync(entry, source);
  const script = join(dir, `${name}.mjs`);
  buildSync({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', format: 'esm', logLevel: 'error' });
  return script;
}

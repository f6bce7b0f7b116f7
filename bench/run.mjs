// Runs one benchmark: bundles bench/NAME.ts with esbuild and runs it with node.
//   node bench/run.mjs start-cost
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';

const name = process.argv[2];
if (!name || !existsSync(`bench/${name}.ts`)) {
  console.error('usage: node bench/run.mjs NAME   (a bench/NAME.ts)');
  process.exit(2);
}
mkdirSync('dist/bench', { recursive: true });
const requireShim = "import { createRequire as __keelCreateRequire } from 'node:module'; const require = __keelCreateRequire(import.meta.url);";
await build({
  entryPoints: [`bench/${name}.ts`],
  outfile: `dist/bench/${name}.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner: { js: requireShim },
  external: ['*.node'],
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, [`dist/bench/${name}.js`, ...process.argv.slice(3)], { stdio: 'inherit', env: { ...process.env, KEEL_NATIVE_DIR: 'dist' } });
process.exit(r.status ?? 1);

// Runs benchmarks: bundles bench/NAME.ts with esbuild and runs it with node.
//   node bench/run.mjs NAME [ARGS...]   one benchmark (start-cost, restart, memory, reaping, boot, image-size, report)
//   node bench/run.mjs all              every benchmark in turn, then the report (table, latest.json, charts)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';

const ALL = ['start-cost', 'restart', 'memory', 'reaping', 'flood', 'image-size', 'boot', 'container-init'];
const name = process.argv[2];
if (!name || (name !== 'all' && !existsSync(`bench/${name}.ts`))) {
  console.error(`usage: node bench/run.mjs NAME|all   (NAME: ${ALL.join(', ')}, report)`);
  process.exit(2);
}
mkdirSync('dist/bench', { recursive: true });
const requireShim = "import { createRequire as __keelCreateRequire } from 'node:module'; const require = __keelCreateRequire(import.meta.url);";

async function run(bench, args) {
  await build({
    entryPoints: [`bench/${bench}.ts`],
    outfile: `dist/bench/${bench}.js`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: requireShim },
    external: ['*.node'],
    logLevel: 'warning',
  });
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [`dist/bench/${bench}.js`, ...args], { stdio: 'inherit', env: { ...process.env, KEEL_NATIVE_DIR: 'dist' } });
  console.log(`== ${bench}: ${r.status === 0 ? 'done' : `FAILED (${r.status ?? r.signal})`} in ${Math.round((Date.now() - t0) / 1000)} s\n`);
  return r.status ?? 1;
}

if (name !== 'all') process.exit(await run(name, process.argv.slice(3)));
// One failing benchmark does not stop the others; the exit status says one failed.
let failed = 0;
for (const b of ALL) {
  console.log(`== ${b}`);
  if ((await run(b, [])) !== 0) failed++;
}
await run('report', []);
process.exit(failed ? 1 : 0);

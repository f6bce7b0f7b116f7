// Bundles keel with esbuild: dist/keel-init.js (PID 1) and dist/keel.js (CLI),
// with the native addon copied beside them; and dist/keel-init.cjs, the same
// PID 1 as CommonJS for images, whose /init compiles it with vm.Script and a
// V8 code cache made at keel build (pkg/image/init-loader.ts). An ES module
// has no code cache API in Node 20 (vm.SourceTextModule is behind
// --experimental-vm-modules), a vm.Script has cachedData.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
// ESM bundles of CommonJS dependencies need a real require for Node's builtins.
const requireShim = "import { createRequire as __keelCreateRequire } from 'node:module'; const require = __keelCreateRequire(import.meta.url);";

mkdirSync('dist', { recursive: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  define: { __KEEL_VERSION__: JSON.stringify(pkg.version) },
  // dockerode (with ssh2 and grpc behind it) is only for `keel build` on the
  // host: loaded lazily from node_modules, never bundled into the image's CLI.
  external: ['*.node', 'node-pty', 'dockerode'],
  logLevel: 'warning',
};
// keel-init never uses pino's own destinations or transports: see pkg/stubs/pino-streams.cjs.
// Nor does pino need worker_threads there: pkg/stubs/pino-worker-threads.cjs, for pino's own files only.
const pinoWorkerThreads = {
  name: 'pino-worker-threads',
  setup: (b) => b.onResolve({ filter: /^(node:)?worker_threads$/ }, (args) => (/[\\/]node_modules[\\/]pino[\\/]/.test(args.importer) ? { path: new URL('./stubs/pino-worker-threads.cjs', import.meta.url).pathname } : undefined)),
};
const initOnly = { alias: { 'sonic-boom': './pkg/stubs/pino-streams.cjs', 'thread-stream': './pkg/stubs/pino-streams.cjs' }, plugins: [pinoWorkerThreads] };
// The yaml library is a third of keel-init, and an image's keel-init never runs it (its manifest is JSON): in the
// CommonJS twin it is a file of its own beside the bundle (keel-yaml.cjs), required the first time YAML is read,
// so the code cache of what /init compiles holds none of it (pkg/image/init-loader.ts).
const YAML_FILE = 'keel-yaml.cjs';
const yamlBeside = { name: 'yaml-beside', setup: (b) => b.onResolve({ filter: /^yaml$/ }, () => ({ path: `./${YAML_FILE}`, external: true })) };
const cjs = await build({
  ...common,
  ...initOnly,
  entryPoints: ['init/entry.ts'],
  outfile: 'dist/keel-init.cjs',
  format: 'cjs',
  write: false,
  // import.meta.url (the addon's folder, the manifest worker's file) is this file's URL.
  define: { ...common.define, 'import.meta.url': '__keelModuleUrl' },
  banner: { js: "const __keelModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // import() in a vm.Script needs a loader callback Node 20 does not offer: node-pty comes through require.
  supported: { 'dynamic-import': false },
  // ASCII only: one non-ASCII character makes V8 hold the whole source as a
  // two-byte string (1.5 MB instead of 0.75 MB, and keel-init's RSS ~2 MiB
  // higher). esbuild escapes strings and identifiers; what it leaves is in
  // comments (dependencies' doc examples), where an escape is just text.
  charset: 'ascii',
  plugins: [...initOnly.plugins, yamlBeside],
});
/** The bundle's text with what charset: 'ascii' leaves (comments) escaped too. */
const asciiOnly = (text) => text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
writeFileSync('dist/keel-init.cjs', asciiOnly(cjs.outputFiles[0].text));
const yaml = await build({ ...common, entryPoints: ['yaml'], outfile: `dist/${YAML_FILE}`, format: 'cjs', charset: 'ascii', write: false });
writeFileSync(`dist/${YAML_FILE}`, asciiOnly(yaml.outputFiles[0].text));
// The ES module twin (namespace mode, keel init-image's container init) is kept ASCII only for the same reason.
const esm = await build({ ...common, ...initOnly, entryPoints: ['init/entry.ts'], outfile: 'dist/keel-init.js', banner: { js: requireShim }, charset: 'ascii', write: false });
writeFileSync('dist/keel-init.js', asciiOnly(esm.outputFiles[0].text));
await build({ ...common, entryPoints: ['pkg/cli/entry.ts'], outfile: 'dist/keel.js', banner: { js: `#!/usr/bin/env node\n${requireShim}` } });
chmodSync('dist/keel.js', 0o755);
// Replace, never overwrite in place: a running keel-init has this file mapped,
// and rewriting a mapped shared object under it crashes it.
copyFileSync('init/native/build/Release/keel_sys.node', 'dist/keel_sys.node.tmp');
renameSync('dist/keel_sys.node.tmp', 'dist/keel_sys.node');
writeFileSync('dist/package.json', '{"type":"module"}\n');
console.log('bundled dist/keel-init.js, dist/keel-init.cjs (with dist/keel-yaml.cjs), dist/keel.js, dist/keel_sys.node');

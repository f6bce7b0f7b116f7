// The image's /init and keel-init's V8 code cache. The kernel runs /init (a
// CommonJS script, by its shebang) with the image's node; /init compiles
// keel-init.cjs with vm.Script, handing V8 the code cache made here at keel
// build by that same node binary, so the boot skips parsing and compiling
// the bundle's functions that ran when the cache was made (under qemu TCG,
// seconds). V8 checks the cache (its version, its flags, the source's
// length) and compiles from source when it does not match; /init tells
// keel-init which way it went (init/boot/code-cache.ts says it on the console).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KEEL_LIB } from '../../model/layout.js';
import { cacheDir, markUsed, scratchDone, scratchFor, sweepUnused } from './cache.js';
import type { CpioEntry } from './cpio.js';
import { BuildError } from './kernel.js';

const BUNDLE = 'keel-init.cjs';
const CACHE = `${BUNDLE}.cache`;
/** The yaml library, which the bundle requires from beside itself the first time YAML is read (pkg/bundle.mjs). */
const YAML_BESIDE = 'keel-yaml.cjs';

// Both scripts compile Module.wrap(the bundle's text): V8 takes a cache only
// for the very source it was made from. The loader leaves what happened in
// globalThis.__keelCodeCache (its shape: init/boot/code-cache.ts). If the
// bundle cannot load, /init stays alive so the console shows why instead of a panic.
const INIT_LOADER = `#!/usr/bin/node
'use strict';
const lib = '${KEEL_LIB}';
try {
  const t0 = performance.now();
  // No transparent huge pages for keel-init's memory from here on (init/core/huge-pages.ts): before the
  // bundle's compile grows V8's heap. keel-init loads the same addon (the same library) and asks again.
  try { const addon = { exports: {} }; process.dlopen(addon, lib + '/keel_sys.node'); addon.exports.disableHugePages(); } catch {}
  const { readFileSync } = require('node:fs');
  const { Script } = require('node:vm');
  const { Module, createRequire } = require('node:module');
  const file = lib + '/${BUNDLE}';
  let cachedData;
  try { cachedData = readFileSync(lib + '/${CACHE}'); } catch {}
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const state = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  globalThis.__keelCodeCache = { state, loaderAtMs: t0, compileMs: performance.now() - t0 };
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, lib);
} catch (err) {
  console.error('keel: cannot start keel-init:', err);
  setInterval(() => {}, 1 << 30);
}
`;

// Run on the build host by the image's node (node -e, with the bundle and the output as arguments): compiles the bundle as /init
// does, but every function of it at once (--no-lazy), so the functions boot
// calls for the first time (the machine's set-up, the stages, a service's
// start) come from the cache too, not only those a run on the build host
// reaches. --lazy is set back before anything else compiles: V8 checks a cache
// against the flags as they are when it is made, and /init compiles under the
// defaults. Then runs it as \`keel-init --version\` and loads the rest of
// keel-init as boot does after the first line (the bundle's loadRest), and
// writes the cache. keel-init sets its own flags only past --version
// (heap-budget.ts).
const CACHE_MAKER = `'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { createRequire, Module } = require('node:module');
const { setFlagsFromString } = require('node:v8');
const [file, out] = process.argv.slice(1);
process.argv = [process.argv[0], file, '--version'];
setFlagsFromString('--no-lazy');
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file });
setFlagsFromString('--lazy');
const module = { exports: {} };
script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, require('node:path').dirname(file));
// keel-init's fault guard (installed before --version is handled) would contain a failure here: say it and exit 1.
const fail = (err) => { process.stderr.write('the code cache maker failed: ' + (err && err.stack || err) + '\\n'); process.exit(1); };
if (typeof module.exports.loadRest !== 'function') fail(new Error('the bundle exports no loadRest'));
module.exports.loadRest().then(() => writeFileSync(out, script.createCachedData())).catch(fail);
`;

/**
 * /init, keel-init.cjs and, when the image's node runs on this machine
 * (`nodeRunsHere`: the image is for this machine's architecture), its code
 * cache. A foreign node is never run to find out: exec of it fails with
 * ENOEXEC, and then execvp, which libuv's spawn uses, hands the file to /bin/sh.
 */
export function initEntries(distDir: string, node: string, nodeRunsHere: boolean): CpioEntry[] {
  const missing = [BUNDLE, YAML_BESIDE].filter((f) => !existsSync(join(distDir, f)));
  if (missing.length) throw new BuildError(`keel's own files are missing from ${distDir}: ${missing.join(', ')}; run "make build"`);
  const bundle = join(distDir, BUNDLE);
  const text = readFileSync(bundle);
  const cache = nodeRunsHere ? codeCache(bundle, text, node) : undefined;
  return [
    { path: '/init', type: 'file', mode: 0o755, data: Buffer.from(INIT_LOADER) },
    { path: `${KEEL_LIB}/${BUNDLE}`, type: 'file', mode: 0o644, data: text },
    { path: `${KEEL_LIB}/${YAML_BESIDE}`, type: 'file', mode: 0o644, data: readFileSync(join(distDir, YAML_BESIDE)) },
    ...(cache ? [{ path: `${KEEL_LIB}/${CACHE}`, type: 'file' as const, mode: 0o644, data: cache }] : []),
  ];
}

/**
 * The code cache of `bundle` (whose content is `text`) made by `node`, kept in
 * keel's cache under the hash of both (a new bundle or a new node gets a new one).
 */
function codeCache(bundle: string, text: Buffer, node: string): Buffer {
  // The maker's text is in the key: how the cache is made. Not node's time: keel's cache marks the node it uses
  // (its mtime) to keep it, and the path of that copy already says which binary it was made from.
  const key = createHash('sha256').update(text).update(CACHE_MAKER).update(`\0${node}\0${statSync(node).size}`).digest('hex').slice(0, 32);
  const dir = join(cacheDir(), 'code-cache');
  const final = join(dir, key);
  if (existsSync(final)) {
    markUsed(final); // in use: the sweep below keeps it
    return readFileSync(final);
  }
  mkdirSync(dir, { recursive: true });
  sweepUnused(dir); // each new bundle makes a cache of about 0.9 MB
  const scratch = scratchFor(final);
  try {
    // A fixed seed makes V8 write the same cache every time (its random seed otherwise shows in the bytes), so the image is
    // the same bytes on any machine; V8 leaves the seed out of the flags a cache is checked under.
    const r = spawnSync(node, ['--random-seed=1', '-e', CACHE_MAKER, bundle, scratch], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 120_000 });
    if (r.status !== 0 || !existsSync(scratch)) throw new BuildError(`could not make keel-init's code cache with ${node}: ${(r.stderr || r.error?.message || `exit ${r.status ?? r.signal}, no cache written`).trim()}`);
    renameSync(scratch, final);
    return readFileSync(final);
  } finally {
    rmSync(scratch, { force: true });
    scratchDone(scratch);
  }
}

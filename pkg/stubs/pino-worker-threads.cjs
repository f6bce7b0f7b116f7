// What pino's tools.js gets in keel-init's bundles for node:worker_threads
// (pkg/bundle.mjs). It asks isMainThread when it loads, only to choose how
// its own destination (sonic-boom) flushes at exit, which keel-init never
// makes (pkg/stubs/pino-streams.cjs). Loading worker_threads for that one
// answer brought three of node's modules into every boot: tens of ms under
// qemu TCG. keel's own worker (init/boot/manifest-reader.ts) loads the real one.
'use strict';
module.exports = { isMainThread: true };

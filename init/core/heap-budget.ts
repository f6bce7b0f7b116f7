// Sets keel-init's V8 flags (model/v8-flags.ts says what they are and why)
// once its modules are loaded, at the end of the load stage (init/boot/boot.ts). V8 reads both whenever it
// decides (to grow, to tier up), not only at start-up, so setting them at run
// time works; and it must be run time, after the loading, because V8 takes a
// code cache only under the flags it was made under. Node's own modules carry
// caches made under V8's defaults (with the flags set, node compiled every
// module keel loads from source: 70 of them for http, crypto and
// child_process alone), and keel build makes keel-init's cache under the
// defaults too (pkg/image/init-loader.ts).
import cluster from 'node:cluster';
import { promises as fsPromises, ReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { KEEL_INIT_V8_FLAGS } from '../../model/v8-flags.js';

export function limitHeapGrowth(): void {
  // Node loads these on first use (performance.now(); listen() asks cluster
  // whether it is the primary; fs.promises and fs's streams), which would
  // come after the flags: used here, they compile from node's cache as the
  // rest did. test/vm-startup.test.ts names any module that does not.
  void [cluster.isPrimary, performance.now(), fsPromises, ReadStream];
  setFlagsFromString(KEEL_INIT_V8_FLAGS.join(' '));
}

// Bundle entry for dist/keel-init.js: keel, or the worker thread it starts to read a large manifest.
import { main } from './boot/main.js';
import { MANIFEST_WORKER_ARG } from './boot/worker-mark.js';

// Reading input devices (the power button) holds a thread-pool thread for good;
// keep the pool large enough that file I/O never waits behind it.
process.env.UV_THREADPOOL_SIZE ??= '8';

const argv = process.argv.slice(2);
if (argv.includes(MANIFEST_WORKER_ARG)) {
  void import('./boot/manifest-reader.js').then((reader) => (reader.isManifestWorker() ? reader.manifestWorker() : main(argv)));
} else {
  main(argv);
}

/** For keel build's code cache maker (pkg/image/init-loader.ts): what main() loads only once boot is under way. */
export { loadRest } from './boot/main.js';

// Bundle entry for dist/keel-init.js: keel, or the worker thread it starts to read a large manifest.
// First: the thread pool's size must be set before anything starts the pool (core/threadpool.ts).
import './core/threadpool.js';
import { main } from './boot/main.js';
import { MANIFEST_WORKER_ARG } from './boot/worker-mark.js';

const argv = process.argv.slice(2);
if (argv.includes(MANIFEST_WORKER_ARG)) {
  void import('./boot/manifest-reader.js').then((reader) => (reader.isManifestWorker() ? reader.manifestWorker() : main(argv)));
} else {
  main(argv);
}

/** For keel build's code cache maker (pkg/image/init-loader.ts): what main() loads only once boot is under way. */
export { loadRest } from './boot/main.js';

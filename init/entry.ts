// Bundle entry for dist/keel-init.js: keel, or the worker thread it starts to read a large manifest.
import { main } from './boot/main.js';
import { isManifestWorker, manifestWorker } from './boot/manifest-reader.js';

// Reading input devices (the power button) holds a thread-pool thread for good;
// keep the pool large enough that file I/O never waits behind it.
process.env.UV_THREADPOOL_SIZE ??= '8';

if (isManifestWorker()) manifestWorker();
else main(process.argv.slice(2));

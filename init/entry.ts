// Bundle entry for dist/keel-init.js.
import { main } from './boot/main.js';

// Reading input devices (the power button) holds a thread-pool thread for good;
// keep the pool large enough that file I/O never waits behind it.
process.env.UV_THREADPOOL_SIZE ??= '8';

main(process.argv.slice(2));

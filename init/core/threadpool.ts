// Reading input devices (the power button) holds a thread-pool thread for
// good; keep the pool large enough that file I/O never waits behind it. That
// is a machine's keel-init, whose /init is CommonJS: in the ES module entry
// (namespace and container modes) node's loader has started the pool before
// this runs, the setting comes too late, and nothing there needs it.
// libuv reads UV_THREADPOOL_SIZE once, when the pool starts, which is the
// first piece of work queued to it: so keel sets the variable, queues a stat
// (which starts the pool then and there, synchronously), and takes the
// variable out again. It is keel's own setting: runc and the other helpers
// inherit keel-init's environment (the C library's, which deleting from
// process.env changes too), and a service's process gets what keel was given.
// A value keel was given is left alone: it is the user's.
import { stat } from 'node:fs';

if (process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = '8';
  stat('/', () => undefined);
  delete process.env.UV_THREADPOOL_SIZE;
}

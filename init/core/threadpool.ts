// Reading input devices (the power button) holds a thread-pool thread for
// good; keep the pool large enough that file I/O never waits behind it.
// libuv reads the variable when the pool first starts, so it is set before
// anything else runs. Set here, it is keel's own setting: the programs keel
// starts get the environment keel was given, without it.

/** keel-init set UV_THREADPOOL_SIZE itself rather than inheriting it. */
export const ownThreadpoolSize = process.env.UV_THREADPOOL_SIZE === undefined;
if (ownThreadpoolSize) process.env.UV_THREADPOOL_SIZE = '8';

/** keel-init's environment as it was given: what its own start-up added taken out. */
export function givenEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!ownThreadpoolSize) return env;
  const { UV_THREADPOOL_SIZE: _ours, ...given } = env;
  return given;
}

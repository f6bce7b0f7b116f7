// What the image's /init (pkg/image/init-loader.ts) did with keel-init's V8
// code cache, said once on the console: whether V8 took it, how long the
// bundle took to compile, and where node's own start-up time went. Nothing
// when keel-init was not started by that loader (namespace mode, a
// container image's init, an image's node run by hand).
import type { EventBus } from '../../events/bus.js';

/** What the loader leaves in globalThis.__keelCodeCache; times are ms since node started (performance.now()). */
export interface LoaderRecord {
  state: 'accepted' | 'rejected' | 'absent';
  /** When the loader's first line ran: node's own start-up before it. */
  loaderAtMs: number;
  /** Reading the bundle and its cache, and compiling it. */
  compileMs: number;
}

const SAID: Record<LoaderRecord['state'], string> = {
  accepted: 'code cache accepted: keel-init compiled',
  rejected: 'code cache rejected by V8 (not made by this node?): keel-init compiled from source',
  absent: 'no code cache in this image: keel-init compiled from source',
};

/** Says how keel-init was compiled, if the loader recorded it. */
export function sayCodeCache(bus: EventBus): void {
  const r = (globalThis as { __keelCodeCache?: LoaderRecord }).__keelCodeCache;
  if (!r) return;
  const ms = Math.round;
  bus.emit({
    kind: 'keel.code-cache',
    level: r.state === 'rejected' ? 'warn' : 'info',
    message: `${SAID[r.state]} in ${ms(r.compileMs)} ms (node start to /init ${ms(r.loaderAtMs)} ms, to keel-init's first line ${ms(performance.now())} ms)`,
    state: r.state,
    loaderAtMs: ms(r.loaderAtMs),
    compileMs: ms(r.compileMs),
    firstLineMs: ms(performance.now()),
  });
}

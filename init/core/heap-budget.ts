// What V8 may hold on to in keel-init, set at start through V8's own flags.
// keel-init is a supervisor that sits idle between bursts (boot, a restart
// storm); V8's defaults suit a program that computes. Measured with 100 idle
// services (bench/memory.ts, issue 14), two defaults cost about 15 MiB of RSS
// that never came back, against 3 MiB of live heap for the services themselves:
// - the young generation doubles each time enough objects survive a scavenge,
//   up to 2 x 16 MiB, and is not shrunk again while keel allocates little (no
//   further GC ever asks); starting 100 services grew it to 2 x 8 MiB;
// - the optimizing compiler (TurboFan) compiles the start path's functions once
//   they are hot: its code in the node binary is paged in (about 4 MiB) and its
//   compilations leave about 6 MiB of anonymous memory behind.
// keel-init's hot paths are builtins (indexOf, slice, JSON) behind short JS
// functions, which the baseline compiler (Sparkplug) handles well enough.
import { setFlagsFromString } from 'node:v8';

export const HEAP_FLAGS = [
  // The young generation keeps its starting size (1 MiB semi-spaces): a burst is collected more often, not in more memory.
  '--semi-space-growth-factor=1',
  // Ignition and Sparkplug only: no TurboFan (tier 3) or Maglev (tier 2).
  '--max-opt=1',
];

/**
 * Sets HEAP_FLAGS. Called first thing in keel-init, before any code is hot:
 * these two flags are read by V8 whenever it decides, not only at start-up.
 */
export function limitHeapGrowth(): void {
  setFlagsFromString(HEAP_FLAGS.join(' '));
}

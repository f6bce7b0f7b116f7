// The V8 flags keel-init runs with: what V8 may hold on to in keel-init.
// keel-init is a supervisor that sits idle between bursts (boot, a restart
// storm); V8's defaults suit a program that computes. Measured with 100 idle
// services (bench/memory.ts, issue 14), two defaults cost about 15 MiB of RSS
// that never came back, against 3 MiB of live heap for the services themselves:
// - the young generation doubles each time enough objects survive a scavenge,
//   up to 2 x 16 MiB, and is not shrunk again while keel allocates little (no
//   further GC ever asks); starting 100 services grew it to 2 x 8 MiB;
// - the optimizing compiler (TurboFan) compiles functions of boot and of the
//   start path once they are hot: its code in the node binary is paged in
//   (about 4 MiB) and its compilations leave about 6 MiB of anonymous memory
//   behind. Turning it off after the manifest is read is too late: boot has
//   made it compile by then.
// What keel-init does runs in builtins (indexOf, slice, JSON, syscalls) behind
// short functions, which the baseline compiler (Sparkplug) serves. The one
// computation that loses is parsing a large YAML manifest: 1 MiB of it takes
// about twice the CPU (2 s against 4 s here); a manifest of a few KiB never
// gets hot enough for TurboFan either way.
//
// keel-init sets them when boot begins, after its modules (and node's) are
// compiled from their code caches: V8 takes a cache only when the flags it is
// checked under hash to the flags it was made under (init/core/heap-budget.ts).
export const KEEL_INIT_V8_FLAGS: readonly string[] = [
  // The young generation keeps its starting size (1 MiB semi-spaces): a burst is collected more often, not in more memory.
  '--semi-space-growth-factor=1',
  // Ignition and Sparkplug only: no TurboFan (tier 3) or Maglev (tier 2).
  '--max-opt=1',
];

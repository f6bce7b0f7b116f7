// Sets keel-init's V8 flags (model/v8-flags.ts says what they are and why)
// as the first thing it does. V8 reads both whenever it decides (to grow, to
// tier up), not only at start-up, so setting them at run time works.
import { setFlagsFromString } from 'node:v8';
import { KEEL_INIT_V8_FLAGS } from '../../model/v8-flags.js';

export function limitHeapGrowth(): void {
  setFlagsFromString(KEEL_INIT_V8_FLAGS.join(' '));
}

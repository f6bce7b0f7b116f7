// What keel-init's bundles hold in place of sonic-boom and thread-stream
// (pkg/bundle.mjs). keel-init logs through pino with a write function of its
// own (init/core/log.ts), so pino's own destinations (sonic-boom) and its
// transports (thread-stream, on worker threads) never run in it; pino only
// requires them when it loads. Leaving them out spares keel-init loading
// them, and node's assert with them, at every boot. pino tests a stream with
// instanceof against this class, which is false for keel's; anything that
// would make one gets an error that says why.
'use strict';
class NotInKeelInit {
  constructor() {
    throw new Error("pino's own destinations and transports are not in keel-init's bundle: give pino a stream (see init/core/log.ts)");
  }
}
module.exports = NotInKeelInit;

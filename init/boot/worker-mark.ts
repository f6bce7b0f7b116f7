// The mark in the argv of the worker thread that reads a large manifest
// (manifest-reader.ts). The worker runs this same bundle, and its entry must
// tell it is one before loading anything else: asking node:worker_threads
// would load that module in every keel-init.
export const MANIFEST_WORKER_ARG = '--keel-manifest-worker';

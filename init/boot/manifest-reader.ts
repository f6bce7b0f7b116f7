// Reading the manifest without stalling PID 1. The normalized JSON that a VM
// boots, and any small manifest, are read on the main thread: milliseconds.
// A large YAML manifest takes seconds (the yaml library reads about half a
// megabyte a second), so it is read on a worker thread started from this same
// bundle, and keel-init answers the API, the console and SIGTERM meanwhile.
import { ManifestError, parseManifest, readManifestText, type Manifest, type ManifestProblem } from '../../model/index.js';
import { MANIFEST_WORKER_ARG } from './worker-mark.js';

/** Any manifest up to this size is read on the main thread: it takes less than starting a worker does (bench/manifest.ts). */
export const INLINE_BYTES = 64 << 10;
/** The normalized JSON up to this size too: JSON.parse and validation take about 25 ms per MiB. */
export const INLINE_JSON_BYTES = 4 << 20;
/** How keel build's normalized JSON starts (normalizedJson writes the format first). */
const NORMALIZED_START = /^\s*\{\s*"format"\s*:/;
/** A bound on the worker's heap: a manifest within the size limit needs a few hundred MiB at most. */
const WORKER_HEAP_MB = 1024;

const KEY = 'keelManifestReader';

type Threads = typeof import('node:worker_threads');
/** node:worker_threads, loaded only for a manifest that needs the worker (or in it): at boot a VM's manifest never does, and loading it there costs tens of ms under qemu TCG. */
const threads = (): Threads => require('node:worker_threads') as Threads;

interface Job {
  text: string;
  file: string;
}

type Reply = { manifest: Manifest } | { problems: ManifestProblem[]; more: number } | { error: string };

/** The manifest at `file`; a ManifestError when it is not valid. */
export async function readManifest(file: string): Promise<Manifest> {
  const text = readManifestText(file);
  const quick = text.length <= INLINE_BYTES || (text.length <= INLINE_JSON_BYTES && NORMALIZED_START.test(text.slice(0, 100)));
  return quick ? parseManifest(text, file) : parseOnWorker({ text, file });
}

function parseOnWorker(job: Job): Promise<Manifest> {
  return new Promise((resolve, reject) => {
    const worker = new (threads().Worker)(new URL(import.meta.url), { argv: [MANIFEST_WORKER_ARG], workerData: { [KEY]: job }, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    let replied = false;
    worker.once('message', (reply: Reply) => {
      replied = true;
      if ('manifest' in reply) resolve(reply.manifest);
      else if ('problems' in reply) reject(new ManifestError(job.file, reply.problems, reply.more));
      else reject(new Error(reply.error));
      void worker.terminate();
    });
    worker.once('error', (err) => reject(new Error(`the worker reading it failed: ${err.message}`)));
    worker.once('exit', (code) => {
      if (!replied) reject(new Error(`the worker reading it ended (exit code ${code}) without an answer`));
    });
  });
}

/** True in the worker thread that readManifest starts: the bundle's entry runs manifestWorker instead of keel. */
export function isManifestWorker(): boolean {
  const { isMainThread, workerData } = threads();
  return !isMainThread && typeof workerData === 'object' && workerData !== null && KEY in workerData;
}

export function manifestWorker(): void {
  const { workerData, parentPort } = threads();
  const job = (workerData as Record<typeof KEY, Job>)[KEY];
  let reply: Reply;
  try {
    reply = { manifest: parseManifest(job.text, job.file) };
  } catch (err) {
    reply = err instanceof ManifestError ? { problems: err.problems, more: err.more } : { error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
}

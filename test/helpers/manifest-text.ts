// Manifest text for tests and benchmarks: large documents made to a size,
// and the problems a rejected manifest reports.
import { ManifestError } from '../../model/index.js';

/** Text of about `bytes`: `head`, then `item(0)`, `item(1)`, … until it is that long. */
export function fill(bytes: number, head: string, item: (i: number) => string): string {
  const parts = [head];
  let size = head.length;
  for (let i = 0; size < bytes; i++) {
    const s = item(i);
    parts.push(s);
    size += s.length;
  }
  return parts.join('');
}

/** The lines of the ManifestError `load` throws; an error when it loads instead. */
export function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ManifestError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected the manifest to be rejected');
}

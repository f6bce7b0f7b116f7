// Removing a directory tree on a run's path (a bundle, runc's state of a
// container). rmSync(recursive) stats every entry and tries rmdir on a
// directory before reading it; this reads each directory once and trusts the
// entry types readdir gives, about half the system calls for the few files a
// bundle holds.
import { readdirSync, rmdirSync, unlinkSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Removes `path` and everything below it; a path that is already gone is not an error. */
export function removeTree(path: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    if (errno(err) !== 'ENOTDIR') throw err;
    return void unlinkSync(path);
  }
  for (const e of entries) {
    if (e.isDirectory()) removeTree(join(path, e.name));
    else removeFile(join(path, e.name));
  }
  try {
    rmdirSync(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    // A file system whose readdir gives no entry types (DT_UNKNOWN) makes a directory look like a file.
    if (errno(err) === 'EISDIR') return removeTree(path);
    if (errno(err) !== 'ENOENT') throw err;
  }
}

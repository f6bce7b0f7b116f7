// The manifest as its author wrote it, for `files[].metadata` (LinuxKit
// writes the manifest into the image so that what runs can read how it was
// built): the document's own data, without keel's defaults, as YAML or JSON.
import { stringify } from 'yaml';
import { manifestData } from './load.js';

export function manifestAsWritten(file: string, format: 'yaml' | 'json'): string {
  const data = manifestData(file) ?? {};
  return format === 'json' ? JSON.stringify(data, null, 4) + '\n' : stringify(data);
}

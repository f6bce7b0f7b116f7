// The manifest as its author wrote it, for `files[].metadata` (LinuxKit
// writes the manifest into the image so that what runs can read how it was
// built): the document's own data, without keel's defaults, as YAML or JSON.
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

export function manifestAsWritten(file: string, format: 'yaml' | 'json'): string {
  const data: unknown = parse(readFileSync(file, 'utf8')) ?? {};
  return format === 'json' ? JSON.stringify(data, null, 4) + '\n' : stringify(data);
}

// The OCI runtime-spec schema helper itself: the upstream example passes, a broken copy does not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OCI_SCHEMA_DIR, validateOciConfig } from './helpers/oci-schema.js';

function example(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(OCI_SCHEMA_DIR, 'examples/spec-example.json'), 'utf8')) as Record<string, unknown>;
}

describe('validateOciConfig', () => {
  it('accepts the runtime-spec example config', () => {
    expect(validateOciConfig(example())).toEqual([]);
  });

  it('names the fields of an invalid config', () => {
    const config = example();
    delete config.ociVersion;
    const process = config.process as Record<string, unknown>;
    process.cwd = 42;

    const errors = validateOciConfig(config);
    expect(errors).toContain('/process/cwd: must be string');
    expect(errors.some((e) => e.includes('ociVersion'))).toBe(true);
    expect(errors).toContain("/: must have required property 'ociVersion'");
  });
});

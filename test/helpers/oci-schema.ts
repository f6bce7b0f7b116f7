// Validates OCI runtime config.json documents against the official runtime-spec
// JSON Schema (draft-04), vendored verbatim in test/fixtures/oci-runtime-spec/.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import type { AnySchemaObject, ErrorObject, ValidateFunction } from 'ajv-draft-04';

/** Folder holding config-schema.json and every schema file it references. */
export const OCI_SCHEMA_DIR = fileURLToPath(new URL('../fixtures/oci-runtime-spec/', import.meta.url));

// ajv-draft-04 is CommonJS: module.exports is the class and .default points back to it.
// Under NodeNext typing the default import is the module object, so go through .default.
const Ajv = AjvDraft04.default;

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ strict: false, allErrors: true });
  // Each schema is registered under its file name, so relative $refs such as
  // "defs.json#/definitions/uint64" resolve against the other files. The files
  // carry no top-level id, so the key becomes their base URI.
  for (const name of readdirSync(OCI_SCHEMA_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const schema = JSON.parse(readFileSync(join(OCI_SCHEMA_DIR, name), 'utf8')) as AnySchemaObject;
    ajv.addSchema(schema, name);
  }
  const validate = ajv.getSchema('config-schema.json');
  if (!validate) throw new Error(`config-schema.json not found in ${OCI_SCHEMA_DIR}`);
  compiled = validate;
  return compiled;
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '/' : e.instancePath;
  return `${where}: ${e.message ?? e.keyword}`;
}

/**
 * Validates an OCI runtime config against the runtime-spec schema.
 * Returns [] when valid, else one readable message per problem, e.g. "/process/cwd: must be string".
 */
export function validateOciConfig(config: unknown): string[] {
  const validate = validator();
  if (validate(config)) return [];
  return (validate.errors ?? []).map(describeError);
}

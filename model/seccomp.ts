// A container's seccomp choice: keel's default filter, none, or a profile of
// the user's in OCI form (config.json's linux.seccomp). In the manifest a
// profile is a file, relative to the manifest; loading reads and checks it,
// and from then on the profile itself stands in the entry, so the normalized
// JSON that keel build writes carries it into the image.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { clip, field, formatPath, int, INVALID, Issues, list, object, oneOf, show, str, type Path, type Spec } from './schema.js';

const ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'] as const;
const ARCHES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
] as const;
const OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;

const syscallArg = object({
  index: field(int({ min: 0, max: 5 }), { required: true }),
  value: field(int({ min: 0 }), { required: true }),
  valueTwo: field(int({ min: 0 })),
  op: field(oneOf(OPERATORS), { required: true }),
});

const syscallRule = object({
  names: field(list(str({ nonEmpty: true })), { required: true }),
  action: field(oneOf(ACTIONS), { required: true }),
  errnoRet: field(int({ min: 0, max: 4095 })),
  args: field(list(syscallArg)),
});

/** The OCI runtime spec's linux.seccomp object. */
export const seccompProfileSpec = object({
  defaultAction: field(oneOf(ACTIONS), { required: true }),
  defaultErrnoRet: field(int({ min: 0, max: 4095 })),
  architectures: field(list(oneOf(ARCHES))),
  flags: field(list(str({ nonEmpty: true }))),
  listenerPath: field(str({ nonEmpty: true })),
  listenerMetadata: field(str()),
  syscalls: field(list(syscallRule)),
});

type SpecValue<S> = S extends Spec<infer T> ? T : never;
export type SeccompProfile = SpecValue<typeof seccompProfileSpec>;

/** "default", "unconfined", a profile file (until loading reads it), or the profile itself. */
export type SeccompChoice = string | SeccompProfile;

const EXPECTED = 'default, unconfined, or the path of a seccomp profile in OCI form (relative to the manifest)';

export const seccomp: Spec<SeccompChoice> = {
  expected: EXPECTED,
  parse(value, path, issues) {
    if (typeof value === 'string') {
      if (value === '') issues.add(path, `"" is not ${EXPECTED}`);
      return value === '' ? INVALID : value;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return seccompProfileSpec.parse(value, path, issues);
    issues.add(path, `${show(value)} is not ${EXPECTED}`);
    return INVALID;
  },
  serialize: (v) => (typeof v === 'string' ? v : seccompProfileSpec.serialize(v)),
  jsonSchema: () => ({ anyOf: [{ type: 'string', description: EXPECTED }, seccompProfileSpec.jsonSchema()] }),
};

/** True for a choice that names a profile file, not yet read. */
export function isProfileFile(choice: SeccompChoice | undefined): choice is string {
  return typeof choice === 'string' && choice !== 'default' && choice !== 'unconfined';
}

/** Docker's profile format has archMap and per-rule includes/excludes; the OCI form keel takes has neither. */
function isDockerProfile(data: unknown): boolean {
  if (data === null || typeof data !== 'object') return false;
  const d = data as Record<string, unknown>;
  const rules = Array.isArray(d.syscalls) ? (d.syscalls as unknown[]) : [];
  return 'archMap' in d || rules.some((r) => r !== null && typeof r === 'object' && ('includes' in r || 'excludes' in r));
}

/** A profile is a few kilobytes; Docker's own, the longest around, is 20. */
const MAX_PROFILE_BYTES = 1 << 20;

/** The text of a profile file: a regular file (a device or a pipe could block or never end) of at most MAX_PROFILE_BYTES. */
function profileText(full: string): string {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const fd = openSync(full, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_PROFILE_BYTES) throw new Error(`${st.size} bytes, over the ${MAX_PROFILE_BYTES} a profile may have`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Reads and checks a profile file; its problems go to `issues` at `path` (the entry's seccomp field). */
export function readProfile(file: string, baseDir: string, path: Path, issues: Issues): SeccompProfile | undefined {
  const full = isAbsolute(file) ? file : resolve(baseDir, file);
  let text: string;
  let data: unknown;
  try {
    text = profileText(full);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    issues.add(path, `${show(file)}: ${e.code === 'ENOENT' ? `no such file (${clip(full)})` : e.message}`);
    return undefined;
  }
  try {
    data = JSON.parse(text);
  } catch (err) {
    issues.add(path, `${show(file)}: not valid JSON: ${(err as Error).message}`);
    return undefined;
  }
  if (isDockerProfile(data)) {
    issues.add(path, `${show(file)} is in Docker's profile format (archMap, includes, excludes); keel takes the OCI form, config.json's linux.seccomp: defaultAction, architectures, syscalls`);
    return undefined;
  }
  const inner = new Issues();
  const profile = seccompProfileSpec.parse(data, [], inner);
  for (const i of inner.list) issues.add(path, `${show(file)}: ${i.path.length ? `${formatPath(i.path)}: ` : ''}${i.message}`);
  return profile === INVALID || inner.list.length ? undefined : profile;
}

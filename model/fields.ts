// Field types shared by the manifest's sections and image labels: each
// parses its written form once into the typed value the rest of keel uses.
import { constants } from 'node:os';
import { normalizeCapability } from './capabilities.js';
import { checkedString, parsedValue, stringForm, transform, type Spec } from './schema.js';
import { checkEnv, formatBind, formatRestart, formatRlimit, formatTmpfs, parseBind, parseRestart, parseRlimit, parseSize, parseTmpfs, type Bind, type RestartPolicy, type Rlimit, type Tmpfs } from './strings.js';

export const absPath = checkedString('an absolute path', (s) => (s.startsWith('/') ? undefined : 'not an absolute path'));

/** A byte count: 67108864, "64m", "1.5G". */
export function size(): Spec<number> {
  return parsedValue('a size in bytes such as 67108864, "64m" or "1g"', parseSize, (v) => v, () => ({ oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*[kmgKMG]?[bB]?$' }] }));
}

export const bind: Spec<Bind> = stringForm('a bind "/src:/dst[:opts]" (or "VOLUME:/dst[:opts]")', parseBind, formatBind);
export const tmpfs: Spec<Tmpfs> = stringForm('a tmpfs "/dst[:opts]"', parseTmpfs, formatTmpfs);
export const rlimit: Spec<Rlimit> = stringForm('a limit "nofile,SOFT,HARD"', parseRlimit, formatRlimit);
export const restartPolicy: Spec<RestartPolicy> = stringForm('one of no, on-failure[:N], always, unless-stopped', parseRestart, formatRestart);
export const envVar = checkedString('NAME=value', checkEnv);

export type SignalName = NodeJS.Signals;
export const signalName: Spec<SignalName> = transform(
  checkedString('a signal name such as SIGTERM', (s) => (s in constants.signals ? undefined : 'not a signal name')),
  (s) => s as SignalName,
  (s) => s,
);

/** A capability in its canonical form (CAP_NET_ADMIN), or the words "all" and "none". */
export const capability: Spec<string> = transform(
  checkedString('a capability such as CAP_NET_ADMIN, or "all" or "none"', (s) => (['all', 'none'].includes(s.toLowerCase()) || normalizeCapability(s) ? undefined : 'unknown capability')),
  (s) => (['all', 'none'].includes(s.toLowerCase()) ? s.toLowerCase() : normalizeCapability(s)!),
  (s) => s,
);

// Finding a process on this host by its exact command line, as /proc shows it
// (a zombie's reads empty, so it is not found).
import { readdirSync, readFileSync } from 'node:fs';

/** The pid of a process whose command line is exactly `args`, if one exists. */
export function pidOfCommand(...args: string[]): number | undefined {
  const want = args.join('\0') + '\0';
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8') === want) return Number(name);
    } catch {
      /* exited while we looked */
    }
  }
  return undefined;
}

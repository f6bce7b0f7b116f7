// The CLI's two streams: results on stdout, everything else (progress,
// warnings, errors) on stderr, each write a whole line.
export const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
export const err = (s: string): void => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

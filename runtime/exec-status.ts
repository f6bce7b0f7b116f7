// The exit status of a `runc exec` whose program never started. runc ends
// 255 for every such failure and says why on its stderr; a shell (and
// `docker exec`) ends 127 for a program not found and 126 for one that cannot
// be run, which is what scripts test for. Only the end of the output is kept:
// runc says it last, and a program that did start may write without end.

const KEEP_CHARS = 1024;
/**
 * runc 1.1's last line, as its logger writes it to a pipe:
 * `time="…" level=error msg="exec failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH"`,
 * or to a terminal: `ERRO[0000] exec failed: …` (ERRO in colour). Only as the output's last line: a program
 * that did start may print anything before it ends.
 */
const NOT_STARTED = /(?:level=error msg="|ERRO(?:\x1b\[0m)?\[\d+\] )exec failed: unable to start container process: exec: [^\n]*?(executable file not found|no such file or directory|permission denied|exec format error)[^\n]*$/;

/**
 * A shell's status for a program that could not start, from why (runc's words or
 * strerror's, in either case): 126 when the file is there but cannot be run (no x
 * bit, a folder, not a program), 127 otherwise (not found).
 */
export function notStartedStatus(why: string): 126 | 127 {
  return /permission denied|exec format error|is a directory/i.test(why) ? 126 : 127;
}

export class ExecStatus {
  private tail = '';

  /** Output of the exec (its stderr, or a terminal's bytes), in order. */
  saw(d: Buffer | string): void {
    this.tail = (this.tail + d.toString()).slice(-KEEP_CHARS);
  }

  /** runc's exit code, made the shell's when the program could not start. */
  status(code: number | null): number | null {
    if (code !== 255) return code;
    const why = NOT_STARTED.exec(this.tail.trimEnd())?.[1];
    return why === undefined ? code : notStartedStatus(why);
  }
}

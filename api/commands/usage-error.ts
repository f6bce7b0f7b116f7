// A verb used wrongly: exit code 2 in the CLI, one line at the console prompt.
// It names the verb, so the line can point at that verb's own help.
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The verb it was about ("build", "logs"), or none for the command line as a whole. */
    readonly verb?: string,
  ) {
    super(message);
  }

  /** The line the CLI prints: `keel VERB: MESSAGE; see "keel VERB --help"`. */
  cliLine(): string {
    return this.verb ? `keel ${this.verb}: ${this.message}; see "keel ${this.verb} --help"` : `keel: ${this.message}; see "keel help"`;
  }

  /** The line the console prompt prints, where verbs are typed without "keel". */
  promptLine(): string {
    return this.verb ? `${this.verb}: ${this.message}; see "help ${this.verb}"` : `${this.message}; see "help"`;
  }
}

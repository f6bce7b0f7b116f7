// The console prompt. On a terminal console, Enter opens `keel>`: line
// editing and history (readline), the CLI's verbs run in-process against
// keel's own API, `sh` opens a shell and `exec NAME [CMD]` a terminal in a
// service container, both in a pseudo-terminal (node-pty) so job control and
// ctrl-c reach the shell, never PID 1. While the prompt is open on the
// console, event lines are held back and summarized when it gives the console
// back. The same prompt runs on a remote stream (the API's /v1/console).
import type { Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { controlSpec } from '../../api/commands/control-specs.js';
import { verbHelp } from '../../api/commands/help.js';
import { PROMPT_VERBS, runControl, UsageError } from '../../api/commands/verbs.js';
import { ApiError, ApiUnreachable } from '../../api/client.js';
import { heldSummary } from './held-summary.js';
import type { ConsoleSink } from './sink.js';
import { exitText, feedTerminal, PtyUnavailable, spawnPty, termSize, type PtySession } from './pty-session.js';

type Readline = typeof import('node:readline');
/**
 * node:readline, loaded when a prompt first opens: a console nobody presses
 * Enter on never needs it, and under qemu TCG loading it (and four of node's
 * modules under it) at boot cost tens of ms (docs/architecture.md, "Node's
 * start-up under TCG").
 */
const readline = (): Readline => require('node:readline') as Readline;

export type ConsoleAccess = { mode: 'open' } | { mode: 'off' } | { mode: 'password'; verify: (password: string) => boolean };

/** Where a prompt reads and writes: the console (stdin/stdout) or a remote stream. */
export interface TermIO {
  input: Readable & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
  output: Writable & { columns?: number; rows?: number };
  /** keel's own lines (the console's writer reaches every console). */
  write(text: string): void;
  /** Calls back on window size changes; returns the unsubscribe. */
  onResize(cb: () => void): () => void;
  term: string;
}

export interface PromptDeps {
  access: ConsoleAccess;
  socket: string;
  runcRoot: string;
  /** Container id of a running service, for exec. */
  containerOf: (service: string) => string | undefined;
  /** The console's event sink: lines are held while the prompt is open. A remote prompt has none. */
  sink?: ConsoleSink;
}

const HELP = `keel console: ${PROMPT_VERBS.join(', ')}, sh, exec NAME [CMD], help [COMMAND], exit
  e.g. ps | logs -f web | restart web | events | stats | exec web sh | poweroff
  ctrl-c stops a following command; exit or ctrl-d closes the prompt`;

/** help, or help COMMAND: a verb's own help, as keel COMMAND --help prints it. */
function helpText(verb: string | undefined): string {
  const spec = verb === undefined ? undefined : controlSpec(verb);
  if (verb === undefined) return HELP;
  return spec && (spec.name === 'exec' || (PROMPT_VERBS as readonly string[]).includes(spec.name)) ? verbHelp(spec) : `no command "${verb}"; help lists them`;
}

/** A service's program on a terminal: runc exec -t, with the terminal's type in its environment. */
export function execArgs(runcRoot: string, containerId: string, cmd: readonly string[], term: string): string[] {
  return ['--root', runcRoot, 'exec', '-t', '--env', `TERM=${term}`, containerId, ...(cmd.length ? cmd : ['/bin/sh'])];
}

/** Splits a command line into words, honouring simple quotes. */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** The console's own terminal: keel-init's stdin and stdout. */
export function consoleIO(write: (text: string) => void): TermIO {
  return {
    input: process.stdin,
    output: process.stdout,
    write,
    onResize: (cb) => {
      process.stdout.on('resize', cb);
      return () => process.stdout.off('resize', cb);
    },
    term: process.env.TERM ?? 'linux',
  };
}

export class ConsolePrompt {
  private rl: Interface | undefined;
  private busy = false;
  private stopCurrent: (() => void) | undefined;
  private readonly history: string[] = [];
  /** Set while a terminal program has the console: the prompt's readline is closed, not the prompt. */
  private suspended = false;
  private child: PtySession | undefined;
  private closed = false;
  /** Lines that came while a verb ran (typed ahead, or a script piped in): each runs in turn, as a shell's would. */
  private readonly typedAhead: string[] = [];
  /** The input ended (ctrl-d, the end of a pipe): the prompt closes once what came before it has run. */
  private inputEnded = false;
  /** Called once when the prompt closes (exit, ctrl-d, or its stream ended). */
  onClose: (() => void) | undefined;

  constructor(
    private readonly deps: PromptDeps,
    private readonly io: TermIO,
  ) {}

  /** Waits for Enter on a terminal stdin. Returns false when stdin is not a terminal or access is off. */
  install(): boolean {
    const input = this.io.input;
    if (!input.isTTY || this.deps.access.mode === 'off') return false;
    input.on('error', () => {
      /* a console that goes away is not fatal */
    });
    input.on('data', (d: Buffer) => {
      if (this.rl || this.busy) return;
      if (d.includes(13) || d.includes(10)) void this.unlockThenOpen();
    });
    input.resume();
    return true;
  }

  /** With access: password, asks for it (no echo) before the prompt opens. */
  private async unlockThenOpen(): Promise<void> {
    const access = this.deps.access;
    if (access.mode !== 'password') return this.open();
    this.busy = true;
    try {
      const password = await this.readSecret('password: ');
      if (password !== undefined && access.verify(password)) return this.open();
      // A pause against guessing; the console stays usable for the next try.
      await new Promise((r) => setTimeout(r, 2000));
      this.io.write('wrong password\n');
    } finally {
      this.busy = false;
    }
  }

  /** Reads one line without echo; ctrl-c or ctrl-d gives undefined. */
  private readSecret(question: string): Promise<string | undefined> {
    const input = this.io.input;
    this.io.write(question);
    input.setRawMode?.(true);
    return new Promise((resolve) => {
      let text = '';
      const done = (value: string | undefined) => {
        input.off('data', onKey);
        input.setRawMode?.(false);
        this.io.write('\n');
        resolve(value);
      };
      const onKey = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done(text);
          if (ch === '\u0003' || ch === '\u0004') return done(undefined);
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
          else if (ch >= ' ') text += ch;
        }
      };
      input.on('data', onKey);
    });
  }

  /** Opens the prompt now (a remote stream opens it without waiting for Enter). */
  open(): void {
    this.closed = false;
    this.deps.sink?.setPaused(true);
    this.io.write('\n' + HELP + '\n');
    this.openInterface();
  }

  private openInterface(): void {
    const rl = readline().createInterface({ input: this.io.input, output: this.io.output, terminal: true, history: this.history, historySize: 200, prompt: 'keel> ' });
    this.rl = rl;
    this.inputEnded = false;
    // readline re-emits its input's errors (ECONNRESET from a remote client, EIO from a console that went away);
    // unheard, they would be uncaught exceptions in PID 1. The input's end closes the prompt anyway.
    rl.on('error', () => rl.close());
    rl.on('line', (line) => {
      this.typedAhead.push(line.trim());
      void this.runTypedAhead();
    });
    // ctrl-c at the prompt stops a following command, and drops what was typed ahead; it never reaches PID 1's SIGINT (reboot).
    rl.on('SIGINT', () => {
      this.typedAhead.length = 0;
      if (this.stopCurrent) this.stopCurrent();
      else if (!this.busy) {
        rl.write('\n');
        rl.prompt();
      }
    });
    rl.on('close', () => {
      if (this.suspended) return;
      this.inputEnded = true;
      if (!this.busy && this.typedAhead.length === 0) this.close();
    });
    rl.prompt();
  }

  /** Runs the lines that came, one after another; closes the prompt after them if its input has ended. */
  private async runTypedAhead(): Promise<void> {
    if (this.busy) return;
    while (this.typedAhead.length > 0 && !this.closed) await this.run(this.typedAhead.shift()!);
    if (this.inputEnded && !this.suspended) this.close();
  }

  /** The events held since the last summary, summarized; holding goes on while `stillOpen`. */
  private summarize(stillOpen: boolean): string {
    const sink = this.deps.sink;
    return sink ? heldSummary(sink.setPaused(stillOpen), sink.colour) : '';
  }

  /** Shutdown: event lines flow again (an operator must see it), after a summary of what was held. */
  release(): void {
    const summary = this.summarize(false);
    if (summary) this.io.write('\n' + summary);
  }

  /** Ends the prompt from outside (its remote stream went away). */
  shutdown(): void {
    this.child?.kill('SIGHUP');
    this.rl?.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rl = undefined;
    this.io.write('keel: prompt closed\n' + this.summarize(false));
    this.onClose?.();
  }

  private async run(line: string): Promise<void> {
    const rl = this.rl;
    if (!rl) return;
    if (line === '') return this.inputEnded ? undefined : rl.prompt();
    const [verb, ...args] = splitWords(line);
    this.busy = true;
    const write = (s: string) => this.io.output.write(s.endsWith('\n') ? s : `${s}\n`);
    try {
      if (verb === 'exit' || verb === 'quit') {
        this.typedAhead.length = 0;
        this.inputEnded = true;
        rl.close();
        return;
      } else if (verb === 'help' || verb === '?') write(helpText(args[0]));
      else if (verb === 'sh') await this.terminal('/bin/sh', [], 'sh');
      else if (verb === 'exec') {
        const [name, ...cmd] = args;
        const id = name ? this.deps.containerOf(name) : undefined;
        if (!name) write('exec needs a service name: exec NAME [CMD]');
        else if (!id) write(`no running service named "${name}"`);
        else await this.terminal('runc', execArgs(this.deps.runcRoot, id, cmd, this.io.term), `exec ${name}`);
      } else if (verb === 'console') write('this is the console');
      else if ((PROMPT_VERBS as readonly string[]).includes(verb!)) {
        await runControl(verb!, args, { onStop: (stop) => (this.stopCurrent = stop), write, socket: () => this.deps.socket });
      } else write(`unknown command "${verb}"; help lists them`);
    } catch (err) {
      const known = err instanceof ApiError || err instanceof ApiUnreachable || err instanceof PtyUnavailable;
      write(err instanceof UsageError ? err.promptLine() : `${known ? '' : 'error: '}${(err as Error).message}`);
    } finally {
      this.stopCurrent = undefined;
      this.busy = false;
    }
    // A terminal program replaced the readline; prompt on whichever is current (none once the input has ended).
    if (this.rl === rl && !this.inputEnded) rl.prompt();
  }

  /** A program in a pseudo-terminal, wired to this prompt's terminal until it exits. */
  private async terminal(file: string, args: string[], what: string): Promise<void> {
    const { input, output } = this.io;
    const size = termSize(output.columns, output.rows);
    const child = await spawnPty(file, args, size, this.io.term);
    this.child = child;
    // readline would read the keystrokes too: close it while the program runs, and open a new one after.
    this.suspended = true;
    this.rl?.close();
    input.setRawMode?.(true);
    const stopFeeding = feedTerminal(input, child);
    input.resume();
    const out = child.onData((d) => output.write(d));
    const unResize = this.io.onResize(() => {
      const s = termSize(output.columns, output.rows);
      child.resize(s.cols, s.rows);
    });
    const e = await child.exited;
    this.child = undefined;
    out.dispose();
    stopFeeding();
    unResize();
    this.suspended = false;
    if (input.readableEnded || input.destroyed) return this.close(); // the remote end went away meanwhile
    this.io.write(`\r\n${exitText(what, e)}\r\n` + this.summarize(true));
    this.openInterface();
  }
}

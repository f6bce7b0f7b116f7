// The console prompt. On a terminal console, Enter opens `keel>`: line
// editing and history (readline), the CLI's verbs run in-process against
// keel's own API, `sh` opens a shell and `exec NAME [CMD]` a terminal in a
// service container, both in a pseudo-terminal (node-pty) so job control and
// ctrl-c reach the shell, never PID 1. While the prompt is open, event lines
// are held back and summarized when it closes.
import { createInterface, type Interface } from 'node:readline';
import { CONTROL_VERBS, ControlUsage, runControl, type ControlVerb } from '../pkg/cli/control.js';
import { ApiError, ApiUnreachable } from '../services/client.js';
import { claim, release } from './owned-children.js';

export type ConsoleAccess = { mode: 'open' } | { mode: 'off' } | { mode: 'password'; verify: (password: string) => boolean };

export interface PromptDeps {
  access: ConsoleAccess;
  socket: string;
  runcRoot: string;
  /** Container id of a service, for exec. */
  containerOf: (service: string) => string | undefined;
  /** While true, the console sink holds event lines back. */
  setPaused: (paused: boolean) => number;
  write: (text: string) => void;
}

const HELP = `keel console: ${CONTROL_VERBS.join(', ')}, sh, exec NAME [CMD], help, exit
  e.g. ps | logs -f web | restart web | events | stats | exec web sh | poweroff
  ctrl-c stops a following command; exit or ctrl-d closes the prompt`;

interface PtyLike {
  pid: number;
  onData(cb: (d: string) => void): { dispose(): void };
  onExit(cb: (e: { exitCode: number; signal?: number }) => void): { dispose(): void };
  write(d: string): void;
  resize(cols: number, rows: number): void;
}
interface PtyModule {
  spawn(file: string, args: string[], opts: { name: string; cols: number; rows: number; cwd: string; env: Record<string, string> }): PtyLike;
}

/** Splits a command line into words, honouring simple quotes. */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

export class ConsolePrompt {
  private rl: Interface | undefined;
  private busy = false;
  private stopCurrent: (() => void) | undefined;
  private readonly history: string[] = [];

  constructor(private readonly deps: PromptDeps) {}

  /** Waits for Enter on a terminal stdin. Returns false when stdin is not a terminal. */
  install(): boolean {
    const stdin = process.stdin;
    if (!stdin.isTTY || this.deps.access.mode === 'off') return false;
    stdin.on('error', () => {
      /* a console that goes away is not fatal */
    });
    const onData = (d: Buffer) => {
      if (this.rl || this.busy) return;
      if (d.includes(13) || d.includes(10)) void this.unlockThenOpen();
    };
    stdin.on('data', onData);
    stdin.resume();
    return true;
  }

  /** Set while a terminal program has the console: the prompt's readline is closed, not the prompt. */
  private suspended = false;

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
      this.deps.write('wrong password\n');
    } finally {
      this.busy = false;
    }
  }

  /** Reads one line without echo; ctrl-c or ctrl-d gives undefined. */
  private readSecret(question: string): Promise<string | undefined> {
    const stdin = process.stdin;
    this.deps.write(question);
    stdin.setRawMode?.(true);
    return new Promise((resolve) => {
      let text = '';
      const done = (value: string | undefined) => {
        stdin.off('data', onKey);
        stdin.setRawMode?.(false);
        this.deps.write('\n');
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
      stdin.on('data', onKey);
    });
  }

  private open(): void {
    this.deps.setPaused(true);
    this.deps.write('\n' + HELP + '\n');
    this.openInterface();
  }

  private openInterface(): void {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true, history: this.history, historySize: 200, prompt: 'keel> ' });
    this.rl = rl;
    rl.on('line', (line) => void this.run(line.trim()));
    // ctrl-c at the prompt stops a following command; it never reaches PID 1's SIGINT (reboot).
    rl.on('SIGINT', () => {
      if (this.stopCurrent) this.stopCurrent();
      else {
        rl.write('\n');
        rl.prompt();
      }
    });
    rl.on('close', () => {
      if (!this.suspended) this.close();
    });
    rl.prompt();
  }

  /** Shutdown: event lines flow again, the prompt stays for what is left of it. */
  release(): void {
    const held = this.deps.setPaused(false);
    if (held) this.deps.write(`\nkeel: ${held} event line(s) were held back while the prompt was open\n`);
  }

  private close(): void {
    this.rl = undefined;
    const held = this.deps.setPaused(false);
    this.deps.write(`keel: prompt closed${held ? `; ${held} event line(s) were held back (keel events shows them)` : ''}\n`);
  }

  private async run(line: string): Promise<void> {
    const rl = this.rl;
    if (!rl) return;
    if (line === '') return rl.prompt();
    const [verb, ...args] = splitWords(line);
    rl.pause();
    this.busy = true;
    try {
      if (verb === 'exit' || verb === 'quit') {
        rl.close();
        return;
      } else if (verb === 'help' || verb === '?') this.deps.write(HELP + '\n');
      else if (verb === 'sh') await this.terminal('/bin/sh', [], 'sh');
      else if (verb === 'exec') {
        const [name, ...cmd] = args;
        const id = name ? this.deps.containerOf(name) : undefined;
        if (!name) this.deps.write('exec needs a service name: exec NAME [CMD]\n');
        else if (!id) this.deps.write(`no running service named "${name}"\n`);
        else await this.terminal('runc', ['--root', this.deps.runcRoot, 'exec', '-t', id, ...(cmd.length ? cmd : ['/bin/sh'])], `exec ${name}`);
      } else if ((CONTROL_VERBS as readonly string[]).includes(verb!)) {
        await runControl(verb as ControlVerb, [...args, '--socket', this.deps.socket], (stop) => (this.stopCurrent = stop));
      } else this.deps.write(`unknown command "${verb}"; help lists them\n`);
    } catch (err) {
      const known = err instanceof ApiError || err instanceof ApiUnreachable || err instanceof ControlUsage;
      this.deps.write(`${known ? '' : 'error: '}${(err as Error).message}\n`);
    } finally {
      this.stopCurrent = undefined;
      this.busy = false;
    }
    // A terminal program replaced the readline; prompt on whichever is current.
    if (this.rl === rl) {
      rl.resume();
      rl.prompt();
    }
  }

  /** A program in a pseudo-terminal, wired to the console until it exits. */
  private async terminal(file: string, args: string[], what: string): Promise<void> {
    let pty: PtyModule;
    try {
      pty = (await import('node-pty')) as unknown as PtyModule;
    } catch {
      this.deps.write(`${what}: node-pty is not available in this image\n`);
      return;
    }
    const stdin = process.stdin;
    const cols = process.stdout.columns || 80;
    const rows = process.stdout.rows || 24;
    const env: Record<string, string> = { TERM: process.env.TERM ?? 'linux', PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
    const child = pty.spawn(file, args, { name: env.TERM!, cols, rows, cwd: '/', env });
    // node-pty waits for this pid itself: the reaper must leave it alone.
    claim(child.pid);
    // readline would read the keystrokes too: close it while the program runs, and open a new one after.
    this.suspended = true;
    this.rl?.close();
    stdin.setRawMode?.(true);
    const forward = (d: Buffer) => child.write(d.toString('utf8'));
    stdin.on('data', forward);
    stdin.resume();
    const out = child.onData((d) => process.stdout.write(d));
    const onResize = () => child.resize(process.stdout.columns || cols, process.stdout.rows || rows);
    process.stdout.on('resize', onResize);
    await new Promise<void>((resolve) =>
      child.onExit((e) => {
        release(child.pid);
        this.deps.write(`\r\n${what} exited${e.signal ? ` (signal ${e.signal})` : e.exitCode ? ` ${e.exitCode}` : ''}\r\n`);
        resolve();
      }),
    );
    out.dispose();
    stdin.off('data', forward);
    process.stdout.off('resize', onResize);
    this.suspended = false;
    this.openInterface();
  }
}

// keel-init's side of remote attach (services/terminals.ts): the console
// prompt on a stream, and a program in a service container, in a
// pseudo-terminal (runc exec -t) or, for scripts, with plain pipes; each wired
// to the upgraded API connection.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Writable, type Duplex } from 'node:stream';
import { constants } from 'node:os';
import type { TerminalHost, TermExit, TermSession, TermSize } from '../../api/terminals.js';
import { ConsolePrompt, execArgs, type TermIO } from './prompt.js';
import { unreadBound } from './sink.js';
import { ExecStatus } from '../../runtime/exec-status.js';
import { feedTerminal, spawnPty } from './pty-session.js';

export interface RemoteDeps {
  socket: string;
  runcRoot: string;
  containerOf: (service: string) => string | undefined;
}

/**
 * The client's terminal is raw, so nothing turns "\n" into "\r\n" on the way:
 * the prompt's own lines get their carriage returns here. (A pty's output has
 * them already; an extra "\r" before one is harmless.)
 */
class RemoteOutput extends Writable {
  columns: number;
  rows: number;
  private readonly send: (text: string) => void;
  constructor(
    private readonly stream: Duplex,
    size: TermSize,
  ) {
    super();
    this.columns = size.cols;
    this.rows = size.rows;
    // Done at once: the socket buffers, and a write still pending here would be lost when the prompt ends the stream.
    // But not without bound: a client that stopped reading (`logs -f` at the prompt, the client suspended) would
    // grow keel-init by all of it, so past MAX_UNREAD_BYTES the writes are counted, and the count said once it reads again.
    this.send = unreadBound(
      stream,
      (text) => void (stream.writable && stream.write(text)),
      () => 1,
      (n) => `\r\nkeel: … ${n} write(s) left out here: this terminal was not read fast enough\r\n`,
    );
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.stream.writable) this.send(chunk.toString().replace(/(?<!\r)\n/g, '\r\n'));
    cb();
  }
}

/**
 * Copies a program's output to the client as fast as the client reads it:
 * while the connection holds more than its buffer, the program's output is
 * paused, and the program waits on its own pipe or terminal.
 */
function forwardOutput(stream: Duplex, pause: () => void, resume: () => void): (d: Buffer | string) => void {
  let paused = false;
  return (d) => {
    if (!stream.writable || stream.write(d) || paused) return;
    paused = true;
    pause();
    stream.once('drain', () => {
      paused = false;
      resume();
    });
  };
}

function osSignal(name: NodeJS.Signals): number {
  return constants.signals[name] ?? 0;
}

function exitOf(e: { exitCode: number; signal?: number }): TermExit {
  return { exitCode: e.exitCode, signal: e.signal ? e.signal : null };
}

/** Calls `end` once the client's input has ended: `endAfter(n)` says at which byte count, `received` counts. */
function inputEnd(end: () => void): { received: (n: number) => void; endAfter: (bytes: number) => void } {
  let got = 0;
  let at: number | undefined;
  let done = false;
  const check = () => {
    if (!done && at !== undefined && got >= at) {
      done = true;
      end();
    }
  };
  return {
    received: (n) => {
      got += n;
      check();
    },
    endAfter: (bytes) => {
      at = bytes;
      check();
    },
  };
}

/** exec without a terminal: runc exec with pipes, so a script gets the program's bytes untouched. */
function execPiped(runcRoot: string, containerId: string, cmd: string[], stream: Duplex): Promise<TermSession> {
  // child_process waits for runc itself; keel's reaper leaves the children it owns alone.
  const child = spawn('runc', ['--root', runcRoot, 'exec', containerId, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
  for (const s of [child.stdin, child.stdout, child.stderr]) s.on('error', () => undefined);
  const input = inputEnd(() => child.stdin.end());
  stream.on('data', (d: Buffer) => {
    // The client's input waits in the connection while the program is not reading it.
    if (!child.stdin.writableEnded && !child.stdin.write(d)) {
      stream.pause();
      child.stdin.once('drain', () => stream.resume());
    }
    input.received(d.length);
  });
  stream.on('end', () => child.stdin.end()); // a client that half-closes instead
  const both = (f: 'pause' | 'resume') => () => {
    child.stdout[f]();
    child.stderr[f]();
  };
  const out = forwardOutput(stream, both('pause'), both('resume'));
  const status = new ExecStatus();
  child.stdout.on('data', out);
  child.stderr.on('data', (d: Buffer) => {
    status.saw(d);
    out(d);
  });
  stream.on('close', () => child.exitCode === null && child.kill('SIGHUP'));
  const done = new Promise<TermExit>((resolve) => {
    child.on('error', (err) => {
      if (stream.writable) stream.end(`keel: exec: ${err.message}\n`);
      resolve({ exitCode: 127, signal: null });
    });
    child.on('close', (code, signal) => {
      stream.end();
      resolve({ exitCode: status.status(code), signal: signal ? osSignal(signal) : null });
    });
  });
  return Promise.resolve({ resize: () => undefined, endInput: input.endAfter, done });
}

/** The keel> prompt on an upgraded API connection. */
function remotePrompt(deps: RemoteDeps, stream: Duplex, size: TermSize, term: string): TermSession {
  const output = new RemoteOutput(stream, size);
  const resizes = new EventEmitter();
  const io: TermIO = {
    input: stream,
    output,
    write: (text) => void output.write(text),
    onResize: (cb) => {
      resizes.on('resize', cb);
      return () => resizes.off('resize', cb);
    },
    term,
  };
  // The API socket is root's only (0600): whoever reaches it needs no console password.
  const prompt = new ConsolePrompt({ access: { mode: 'open' }, socket: deps.socket, runcRoot: deps.runcRoot, containerOf: deps.containerOf }, io);
  const done = new Promise<TermExit>((resolve) => {
    prompt.onClose = () => {
      stream.end();
      resolve({ exitCode: 0, signal: null });
    };
  });
  stream.on('close', () => prompt.shutdown());
  prompt.open();
  return {
    // keel console sends ctrl-d in the stream at the end of its input, as a terminal would.
    endInput: () => undefined,
    resize(s) {
      output.columns = s.cols;
      output.rows = s.rows;
      output.emit('resize'); // readline redraws its line
      resizes.emit('resize');
    },
    done,
  };
}

/** A program in a service container on a pseudo-terminal (runc exec -t), wired to the connection. */
async function execPty(runcRoot: string, containerId: string, cmd: string[], stream: Duplex, size: TermSize, term: string): Promise<TermSession> {
  const child = await spawnPty('runc', execArgs(runcRoot, containerId, cmd, term), size, term);
  // On a terminal the end of input is an end-of-file character, as a person types it.
  const input = inputEnd(() => child.write('\x04'));
  const stopFeeding = feedTerminal(stream, child, input.received);
  // The client went away: the program gets the hangup a closed terminal gives.
  stream.on('close', () => child.kill('SIGHUP'));
  const forward = forwardOutput(stream, () => child.pause(), () => child.resume());
  const status = new ExecStatus();
  const out = child.onData((d) => {
    status.saw(d);
    forward(d);
  });
  const done = child.exited.then((e) => {
    out.dispose();
    stopFeeding();
    stream.end();
    return exitOf({ ...e, exitCode: status.status(e.exitCode) ?? e.exitCode });
  });
  return { resize: (s) => child.resize(s.cols, s.rows), endInput: input.endAfter, done };
}

export function remoteTerminals(deps: RemoteDeps): TerminalHost {
  return {
    console: (stream, size, term) => remotePrompt(deps, stream, size, term),
    exec: (containerId, cmd, stream, { tty, size, term }) => (tty ? execPty(deps.runcRoot, containerId, cmd, stream, size, term) : execPiped(deps.runcRoot, containerId, cmd, stream)),
  };
}

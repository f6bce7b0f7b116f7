// A program in a pseudo-terminal (node-pty), for the console's `sh` and
// `exec`, local or remote. node-pty waits for its child itself, so the pid is
// claimed from keel's reaper while it runs.
import type { Readable } from 'node:stream';
import { asChildWouldBe } from '../core/huge-pages.js';
import { claim, release } from '../core/owned-children.js';
import { ptyInput, type PtyWritable } from './pty-input.js';

export interface PtyExit {
  exitCode: number;
  signal?: number;
}

export interface PtySession {
  pid: number;
  /** The program's input (init/console/pty-input.ts): a keystroke goes at once, the rest as the program reads. */
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  onData(cb: (data: string) => void): { dispose(): void };
  /** Stops reading the program's output (it then waits on its full terminal), and reads it again. */
  pause(): void;
  resume(): void;
  /** Bytes written that the terminal has not taken yet (queued in keel-init while the program does not read). */
  inputQueued(): number;
  /** Calls `cb` once inputQueued() is at or under `mark`, or the program has gone; the function returned cancels. */
  whenInputUnder(mark: number, cb: () => void): () => void;
  exited: Promise<PtyExit>;
}

interface PtyLike extends PtyWritable {
  pid: number;
  onData(cb: (d: string) => void): { dispose(): void };
  onExit(cb: (e: PtyExit) => void): { dispose(): void };
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  pause(): void;
  resume(): void;
}
interface PtyModule {
  spawn(file: string, args: string[], opts: { name: string; cols: number; rows: number; cwd: string; env: Record<string, string> }): PtyLike;
}

export class PtyUnavailable extends Error {}

/** A sane size: what a terminal reports, or 80x24 when it reports nothing usable. */
export function termSize(cols: number | undefined, rows: number | undefined): { cols: number; rows: number } {
  const ok = (n: number | undefined, dflt: number) => (n !== undefined && Number.isInteger(n) && n > 0 && n <= 1000 ? n : dflt);
  return { cols: ok(cols, 80), rows: ok(rows, 24) };
}

/** Starts `file args` in a pty; throws PtyUnavailable when the image has no node-pty, or what spawn throws. */
export async function spawnPty(file: string, args: string[], size: { cols: number; rows: number }, term = 'linux'): Promise<PtySession> {
  let pty: PtyModule;
  try {
    pty = (await import('node-pty')) as unknown as PtyModule;
  } catch {
    throw new PtyUnavailable('node-pty is not available in this image');
  }
  const env: Record<string, string> = { TERM: term, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
  const child = asChildWouldBe(() => pty.spawn(file, args, { name: term, cols: size.cols, rows: size.rows, cwd: '/', env }));
  claim(child.pid);
  const input = ptyInput(child);
  const exited = new Promise<PtyExit>((resolve) =>
    child.onExit((e) => {
      input.close();
      release(child.pid);
      resolve(e);
    }),
  );
  return {
    pid: child.pid,
    write: (d) => input.write(d), // after the program exited: nowhere to go, and dropped
    resize: (cols, rows) => {
      try {
        child.resize(cols, rows);
      } catch {
        /* the program has just exited */
      }
    },
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    },
    onData: (cb) => child.onData(cb),
    pause: () => child.pause(),
    resume: () => child.resume(),
    inputQueued: () => input.queued(),
    whenInputUnder: (mark, cb) => input.whenUnder(mark, cb),
    exited,
  };
}

/** How an exited program is told on the console: "sh exited", "exec web exited 2". */
export function exitText(what: string, e: PtyExit): string {
  return `${what} exited${e.signal ? ` (signal ${e.signal})` : e.exitCode ? ` ${e.exitCode}` : ''}`;
}

/** Input queued for a terminal past which its source is not read until the program has taken most of it. */
export const MAX_INPUT_QUEUED = 64 * 1024;

/**
 * Feeds what `input` gives to the program's terminal, byte for byte (so
 * UTF-8 split across chunks arrives whole). A source faster than the program
 * reads (a paste, a client piping /dev/zero) would queue all of it in
 * keel-init, so `input` is not read while the terminal holds MAX_INPUT_QUEUED
 * unread, and read again once the program has taken it down to a quarter of
 * that. The function returned stops feeding and leaves `input` flowing if
 * this paused it (the prompt reads it next).
 */
export function feedTerminal(input: Readable, child: PtySession, onBytes?: (n: number) => void): () => void {
  let unhold: (() => void) | undefined;
  const feed = (d: Buffer | string) => {
    child.write(d);
    onBytes?.(d.length);
    if (unhold || child.inputQueued() <= MAX_INPUT_QUEUED) return;
    input.pause();
    unhold = child.whenInputUnder(MAX_INPUT_QUEUED / 4, () => {
      unhold = undefined;
      if (!input.destroyed) input.resume();
    });
  };
  input.on('data', feed);
  return () => {
    input.off('data', feed);
    if (!unhold) return;
    unhold();
    unhold = undefined;
    if (!input.destroyed) input.resume();
  };
}


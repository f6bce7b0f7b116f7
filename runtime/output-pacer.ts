// How fast keel-init takes in a container's output. Bytes alone do not
// bound its work: each line costs a log ring entry, a log file record and
// perhaps a console line, so a megabyte of empty lines (`yes ''`) is a
// million of them, seconds of CPU under TCG in one go. The pacer hands
// the stream's chunks on a slice at a time (at most LINES_PER_TURN lines,
// then the event loop runs), within a budget of bytes and of lines per
// second; past either, the stream is paused, and the container waits on
// its full pipe: its output is slowed, never dropped. Those budgets are per
// stream, so ten writers would get ten times the CPU: every stream also
// spends from one shared budget of keel-init's time (INTAKE_MS_PER_SECOND),
// the CPU time of the work each slice causes, so the total is bounded in
// what it costs on this machine, fast host or emulated CPU alike. Streams
// waiting for that budget take turns (intake-line.ts).
import type { Readable } from 'node:stream';
import { Allowance } from './allowance.js';
import { IntakeLine } from './intake-line.js';

/** The most of a container's stream taken in per second, in bytes and in lines. */
export const MAX_READ_BYTES_PER_SECOND = 2 ** 20;
export const MAX_READ_LINES_PER_SECOND = 5000;
/** The most lines handled before the event loop gets its turn (reaping, the API, probes). */
export const LINES_PER_TURN = 1000;
/**
 * What a stream may still hand on unpaced once its writer has exited: more
 * than a pipe holds (keel makes them 256 KiB), so what the container wrote
 * before it ended is read before the drain's deadline instead of being cut
 * off there; a process that outlived it and goes on writing is paced again.
 */
export const FREE_AFTER_EXIT_BYTES = 2 ** 20;
/** The most of each second keel-init spends taking in output, all streams together (a quarter of a CPU). */
export const INTAKE_MS_PER_SECOND = 250;

const NEWLINE = 0x0a;

/** The first `maxLines` lines of `buf` (newline included) and how many there are; all of it when it has fewer. */
export function firstLines(buf: Buffer, maxLines: number): { head: Buffer; lines: number } {
  let end = 0;
  let lines = 0;
  while (lines < maxLines) {
    const nl = buf.indexOf(NEWLINE, end);
    if (nl < 0) return { head: buf, lines };
    end = nl + 1;
    lines++;
  }
  return { head: buf.subarray(0, end), lines };
}

export interface PaceLimits {
  bytesPerSecond: number;
  linesPerSecond: number;
  linesPerTurn: number;
  /** Milliseconds of work, shared with other streams: each slice spends the CPU time its handling took. */
  shared?: IntakeLine;
}

/** The one intake budget of this process: every container's streams draw on it. */
export const sharedIntake = new IntakeLine(INTAKE_MS_PER_SECOND);

export const DEFAULT_PACE: PaceLimits = { bytesPerSecond: MAX_READ_BYTES_PER_SECOND, linesPerSecond: MAX_READ_LINES_PER_SECOND, linesPerTurn: LINES_PER_TURN, shared: sharedIntake };

export class OutputPacer {
  /** What was read and not yet handed on: at most what the stream gave since it was paused. */
  private backlog: Buffer[] = [];
  private readonly bytes: Allowance;
  private readonly lines: Allowance;
  private wake: (() => void) | undefined;
  /** Lines handed on in this turn of the event loop, from every chunk. */
  private turnLines = 0;
  /** Bytes that may still be handed on without the budgets (after the writer's exit). */
  private free = 0;
  /** Its turn in the shared budget's line has come (waitInLine). */
  private turn = false;

  constructor(
    private readonly stream: Readable,
    private readonly take: (slice: Buffer) => void,
    private readonly limits: PaceLimits = DEFAULT_PACE,
  ) {
    this.bytes = new Allowance(limits.bytesPerSecond);
    this.lines = new Allowance(limits.linesPerSecond);
    stream.on('data', (chunk: Buffer) => {
      this.backlog.push(chunk);
      if (!this.wake) this.pump();
    });
  }

  /** The writer has exited: up to `bytes` more are taken in without the budgets (still a slice per turn). */
  drainFreely(bytes = FREE_AFTER_EXIT_BYTES): void {
    this.free = bytes;
    if (!this.wake) return;
    this.wake();
    this.wake = undefined;
    this.pump();
  }

  /** The stream is done (ended, closed, destroyed): what it gave is handed on now, whatever the budget. */
  finish(): void {
    this.wake?.();
    this.wake = undefined;
    for (const chunk of this.backlog.splice(0)) this.handOn(chunk);
  }

  /**
   * Hands a slice on, charging the shared budget with the CPU time it took.
   * Not the time that passed: keel-init descheduled on a busy host (or a
   * stopped VM) in the middle of one slice made that slice cost seconds, and
   * every stream then waited for the budget to pay it back.
   */
  private handOn(slice: Buffer): void {
    const shared = this.limits.shared;
    if (!shared) return this.take(slice);
    const before = process.cpuUsage();
    try {
      this.take(slice);
    } finally {
      const used = process.cpuUsage(before);
      shared.spend((used.user + used.system) / 1000);
    }
  }

  private pump(): void {
    // Woken at its turn in the shared budget's line: one slice goes ahead of those still waiting.
    let turn = this.turn;
    this.turn = false;
    while (this.backlog.length > 0) {
      const paced = this.free <= 0;
      const wait = paced ? Math.max(this.bytes.waitMs(), this.lines.waitMs()) : 0;
      if (wait > 0) return this.later(wait);
      const shared = this.limits.shared;
      if (paced && shared && !turn && !shared.mayGo()) return this.waitInLine(shared);
      turn = false;
      const room = this.limits.linesPerTurn - this.turnLines;
      if (room <= 0) return this.later(0);
      const chunk = this.backlog[0]!;
      const { head, lines } = firstLines(chunk, room);
      if (head.length === chunk.length) this.backlog.shift();
      else this.backlog[0] = chunk.subarray(head.length);
      this.free = Math.max(0, this.free - head.length);
      this.bytes.spend(head.length);
      this.lines.spend(lines);
      this.countTurn(lines);
      this.handOn(head);
    }
    if (this.stream.isPaused() && !this.stream.destroyed) this.stream.resume();
  }

  /** Chunks a resumed stream had buffered come one after another in the same turn: the turn's lines count them all. */
  private countTurn(lines: number): void {
    if (lines === 0) return;
    if (this.turnLines === 0) setImmediate(() => (this.turnLines = 0));
    this.turnLines += lines;
  }

  /** Pauses the stream until its turn at the shared budget. */
  private waitInLine(shared: IntakeLine): void {
    this.stream.pause();
    this.wake = shared.join(() => {
      this.wake = undefined;
      this.turn = true;
      this.pump();
    });
  }

  /** Pauses the stream and comes back after `ms` (0: after the event loop's other work). */
  private later(ms: number): void {
    this.stream.pause();
    const resume = () => {
      this.wake = undefined;
      this.pump();
    };
    if (ms === 0) {
      const immediate = setImmediate(resume);
      this.wake = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(resume, ms);
      this.wake = () => clearTimeout(timer);
    }
  }
}

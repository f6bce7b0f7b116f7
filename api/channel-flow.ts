// Flow control for each connection of the control channel. The channel is
// one byte stream, and each end read it as fast as it came: what a slow local
// reader did not take piled up in memory. In a VM, `keel --vm NAME exec` of a
// program that does not read its input, fed from /dev/zero, grew keel-init
// by 6-8 MB a second until the machine ran out of memory; stopping the read
// of the whole stream instead would have stalled every other connection,
// `keel --vm NAME poweroff` included.
//
// So each end has at most WINDOW_BYTES of a connection's data in flight (sent
// and not yet taken by the other end's local socket), and the receiver grants
// bytes back with CREDIT frames as its socket takes them. A connection out of
// credit stops reading its local socket; the others go on.
//
// Both ends must know it, and images and hosts of other versions meet. The
// host's RESET carries "keel-channel 2"; a guest that knows flow control
// answers with a RESET saying the same, and only then does the host hold a
// connection back for credit. An older guest ignores the payload and never
// answers; an older host sends none, and the guest then sends no CREDIT
// (which that host would take for a broken stream).

import type { Socket } from 'node:net';

export const CHANNEL_VERSION = 2;
/** A connection's data one end may have sent and not had granted back. */
export const WINDOW_BYTES = 256 * 1024;

/**
 * What a connection's local socket may hold unwritten before the connection
 * is closed instead. A peer that keeps to its credit never comes near it; one
 * that sends past it (an older peer, which knows no credit, or a broken one)
 * would otherwise have this end hold all it sends for a reader that is not
 * keeping up: keel-init in the guest, keel run on the host.
 */
export const OVERRUN_LIMIT_BYTES = 4 << 20;

/** Whether `sock`, a connection's local end, holds more than OVERRUN_LIMIT_BYTES unwritten. */
export function overrun(sock: Socket): boolean {
  return sock.writableLength > OVERRUN_LIMIT_BYTES;
}

const VERSION_TEXT = `keel-channel ${CHANNEL_VERSION}`;

/** The RESET payload that says "I know flow control". */
export function versionPayload(): Buffer {
  return Buffer.from(VERSION_TEXT, 'latin1');
}

/** Whether a RESET payload comes from an end that knows flow control. */
export function speaksFlow(payload: Buffer): boolean {
  const m = /^keel-channel (\d+)$/.exec(payload.toString('latin1'));
  return m !== null && Number(m[1]) >= 2;
}

/** A CREDIT frame's payload: the bytes granted. */
export function creditPayload(bytes: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(bytes >>> 0, 0);
  return b;
}

export function creditOf(payload: Buffer): number {
  return payload.length >= 4 ? payload.readUInt32BE(0) : 0;
}

export interface FlowHooks {
  /** Sends a CREDIT frame of `bytes` to the other end (only when the other end knows flow control). */
  grant(bytes: number): void;
  /** Stops reading the local socket. */
  hold(): void;
  /** Reads the local socket again. */
  release(): void;
}

/** One connection's flow, seen from one end. */
export class ConnectionFlow {
  private credit = WINDOW_BYTES;
  private owed = 0;
  private held = false;

  /** Out of credit: its local socket is not read until the other end grants more. */
  get holding(): boolean {
    return this.held;
  }

  /** `enforced`: whether the other end grants credit, so that running out of it holds the connection. */
  constructor(
    private readonly hooks: FlowHooks,
    private readonly enforced: () => boolean,
  ) {}

  /** `bytes` of this connection's data went to the other end. */
  sent(bytes: number): void {
    this.credit -= bytes;
    if (this.credit <= 0 && !this.held && this.enforced()) {
      this.held = true;
      this.hooks.hold();
    }
  }

  /** The other end granted `bytes` back. */
  granted(bytes: number): void {
    this.credit += bytes;
    if (this.held && this.credit > 0) {
      this.held = false;
      this.hooks.release();
    }
  }

  /**
   * `bytes` the other end sent were taken by the local socket. Granted back in
   * quarters of the window: a sender holds only after a whole window, by which
   * time at least three quarters of it have come back.
   */
  delivered(bytes: number): void {
    this.owed += bytes;
    if (this.owed < WINDOW_BYTES / 4) return;
    this.hooks.grant(this.owed);
    this.owed = 0;
  }
}

// What both ends of the control channel do alike for their connections (the
// guest's in init/machine/vm-channel.ts, keel run's in pkg/run/channel-host.ts):
// each connection's local socket read into DATA frames, its flow of credit
// (channel-flow.ts), the hold of every socket while the stream is behind
// (past `maxQueued` bytes not yet written, released at half of it), data from
// the other end written to the socket and granted back as the socket takes
// it, and a connection closed when its socket has too much waiting.
import type { Socket } from 'node:net';
import { ConnectionFlow, creditPayload, overrun } from './channel-flow.js';
import { dataFrames, encodeFrame, FRAME_CLOSE, FRAME_CREDIT, FRAME_EOF } from './channel-frames.js';
import { FrameScheduler } from './frame-scheduler.js';

export interface LocalConnection {
  sock: Socket;
  flow: ConnectionFlow;
}

export class ChannelEnd {
  readonly conns = new Map<number, LocalConnection>();
  readonly out: FrameScheduler;
  /** The other end said it knows flow control: CREDIT goes to it, and its credit holds connections. */
  speaksFlow = false;
  /** Sockets paused because the stream is behind; running out of credit must not undo that hold, nor it credit's. */
  private readonly held = new Map<Socket, ConnectionFlow>();

  constructor(
    write: (frame: Buffer) => Promise<void>,
    private readonly maxQueued: number,
  ) {
    this.out = new FrameScheduler(write, () => this.releaseHeld());
  }

  /** Connection `id` is `sock` here: its data goes out as DATA frames, its end as EOF, its close as CLOSE. */
  add(id: number, sock: Socket): LocalConnection {
    const current = () => this.conns.get(id)?.sock === sock;
    const flow = new ConnectionFlow(
      {
        grant: (bytes) => {
          if (this.speaksFlow && current()) this.out.pushUrgent(encodeFrame(FRAME_CREDIT, id, creditPayload(bytes)));
        },
        hold: () => sock.pause(),
        release: () => {
          if (!this.held.has(sock)) sock.resume();
        },
      },
      () => this.speaksFlow,
    );
    const c = { sock, flow };
    this.conns.set(id, c);
    sock.on('data', (d: Buffer) => {
      this.out.push(id, ...dataFrames(id, d));
      flow.sent(d.length);
      if (this.out.queued > this.maxQueued && !this.held.has(sock)) {
        this.held.set(sock, flow);
        sock.pause();
      }
    });
    sock.on('end', () => {
      if (current()) this.out.push(id, encodeFrame(FRAME_EOF, id));
    });
    sock.on('error', () => undefined); // the close that follows says it
    sock.on('close', () => {
      this.held.delete(sock);
      if (!current()) return;
      this.conns.delete(id);
      this.out.push(id, encodeFrame(FRAME_CLOSE, id));
    });
    return c;
  }

  /**
   * The other end's data for connection `id`, to its socket; granted back once
   * the socket has taken it. A peer that sends past its credit (an older one
   * grants none) cannot be slowed per connection: a socket with
   * OVERRUN_LIMIT_BYTES waiting loses its connection instead, and this says
   * true.
   */
  deliver(id: number, payload: Buffer): boolean {
    const c = this.conns.get(id);
    if (!c) return false;
    c.sock.write(payload, () => c.flow.delivered(payload.length));
    if (!overrun(c.sock)) return false;
    this.conns.delete(id);
    c.sock.destroy();
    this.out.push(id, encodeFrame(FRAME_CLOSE, id));
    return true;
  }

  /** Forgets every connection and every frame not yet written (the other end is gone or was reset). */
  clear(): LocalConnection[] {
    const all = [...this.conns.values()];
    this.conns.clear();
    this.held.clear();
    this.out.clear();
    return all;
  }

  /** The stream took a frame: once it has caught up, the sockets paused for it are read again (unless out of credit). */
  private releaseHeld(): void {
    if (this.out.queued > this.maxQueued / 2 || this.held.size === 0) return;
    const held = [...this.held];
    this.held.clear();
    for (const [sock, flow] of held) if (!sock.destroyed && !flow.holding) sock.resume();
  }
}

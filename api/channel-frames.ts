// The framing of the host↔guest control channel: one byte stream (a
// virtio-serial port) carrying many connections to the guest's control
// socket. A frame is a 9-byte header (type, connection id, payload length,
// big-endian) and its payload. The host opens connections; either side
// ends its half (EOF: no more data from me, as a socket's half-close) or
// closes them whole; RESET (host → guest) drops every connection, sent when
// the host side (re)attaches so nothing half-finished from before survives.
// CREDIT gives the other end room to send more of a connection's data
// (channel-flow.ts); it is sent only to a peer that said it knows it.

/** The virtio-serial port's name: keel run creates it, keel-init looks for it. */
export const CHANNEL_PORT_NAME = 'org.keel.api';

export const FRAME_OPEN = 1;
export const FRAME_DATA = 2;
export const FRAME_CLOSE = 3;
export const FRAME_RESET = 4;
export const FRAME_EOF = 5;
export const FRAME_CREDIT = 6;

export type FrameType = typeof FRAME_OPEN | typeof FRAME_DATA | typeof FRAME_CLOSE | typeof FRAME_RESET | typeof FRAME_EOF | typeof FRAME_CREDIT;

export interface Frame {
  type: FrameType;
  id: number;
  payload: Buffer;
}

const HEADER = 9;
/** Payloads are split to this size so one busy connection cannot hold the stream for long. */
export const MAX_PAYLOAD = 32 * 1024;

export function encodeFrame(type: FrameType, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(id >>> 0, 1);
  head.writeUInt32BE(payload.length, 5);
  return Buffer.concat([head, payload]);
}

/** DATA frames for a buffer of any size. */
export function dataFrames(id: number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_PAYLOAD) out.push(encodeFrame(FRAME_DATA, id, data.subarray(at, at + MAX_PAYLOAD)));
  return out;
}

export class ChannelProtocolError extends Error {
  override name = 'ChannelProtocolError';
}

/** Turns stream chunks back into frames; throws on a header no peer of ours writes. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER) {
      const type = this.pending.readUInt8(0);
      const len = this.pending.readUInt32BE(5);
      if (type < FRAME_OPEN || type > FRAME_CREDIT || len > MAX_PAYLOAD) {
        this.pending = Buffer.alloc(0);
        throw new ChannelProtocolError(`bad frame header (type ${type}, length ${len})`);
      }
      if (this.pending.length < HEADER + len) break;
      frames.push({ type: type as FrameType, id: this.pending.readUInt32BE(1), payload: Buffer.from(this.pending.subarray(HEADER, HEADER + len)) });
      this.pending = this.pending.subarray(HEADER + len);
    }
    return frames;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
  }
}

import { describe, expect, it } from 'vitest';
import { ChannelProtocolError, dataFrames, encodeFrame, FRAME_CLOSE, FRAME_DATA, FRAME_OPEN, FrameDecoder, MAX_PAYLOAD } from './channel-frames.js';

describe('control channel frames', () => {
  it('survive being cut at every byte boundary', () => {
    const stream = Buffer.concat([encodeFrame(FRAME_OPEN, 7), ...dataFrames(7, Buffer.from('GET /v1/services HTTP/1.1\r\n\r\n')), encodeFrame(FRAME_CLOSE, 7)]);
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(frames.map((f) => [f.type, f.id, f.payload.toString()])).toEqual([
        [FRAME_OPEN, 7, ''],
        [FRAME_DATA, 7, 'GET /v1/services HTTP/1.1\r\n\r\n'],
        [FRAME_CLOSE, 7, ''],
      ]);
    }
  });

  it('split large data and put it back together in order', () => {
    const big = Buffer.alloc(MAX_PAYLOAD * 2 + 5, 'x');
    const frames = new FrameDecoder().push(Buffer.concat(dataFrames(1, big)));
    expect(frames).toHaveLength(3);
    expect(Buffer.concat(frames.map((f) => f.payload)).equals(big)).toBe(true);
  });

  it('reject a header no peer writes', () => {
    expect(() => new FrameDecoder().push(Buffer.from('HTTP/1.1 200 OK\r\n'))).toThrow(ChannelProtocolError);
  });
});

// pty-input's fallback: with no descriptor of its own (no addon, or a
// node-pty whose terminal has no _fd), the input goes through node-pty's own
// writer and its queue is looked at while someone waits for it to empty. The
// writer keel uses otherwise is tested on real programs in
// terminal-input.test.ts.
import { describe, expect, it } from 'vitest';
import { ptyInput } from './pty-input.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('without a descriptor of its own (no addon, or a node-pty without _fd)', () => {
  it("goes through node-pty's writer, counts its queue, and says when it has fallen to the mark", async () => {
    const queue: Array<{ buffer: Buffer; offset: number }> = [];
    const input = ptyInput({ write: (d) => void queue.push({ buffer: Buffer.from(d), offset: 0 }), _writeStream: { _writeQueue: queue } });
    input.write('x'.repeat(1000));
    input.write(Buffer.from('y'.repeat(500)));
    expect(input.queued()).toBe(1500);
    let told = 0;
    input.whenUnder(600, () => told++);
    await sleep(60);
    expect(told).toBe(0);
    queue.shift(); // node-pty's writer took the first write
    await sleep(60);
    expect(told).toBe(1);
    input.close();
    expect(input.queued()).toBe(0);
    input.write('after');
    expect(queue).toHaveLength(1);
  });
});

// The channel's writer: one frame from each connection in turn, urgent frames first.
import { describe, expect, it } from 'vitest';
import { FrameScheduler } from './frame-scheduler.js';

describe('FrameScheduler', () => {
  it('takes one frame from each connection in turn, keeps each connection\'s order, and puts urgent frames first', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    // The first write is held, so everything else is queued behind it when the turns are decided.
    let first = true;
    const s = new FrameScheduler(async (f) => {
      order.push(f.toString());
      if (first) {
        first = false;
        await new Promise<void>((r) => (release = r));
      }
    });
    s.push(1, Buffer.from('a1'));
    s.push(1, Buffer.from('a2'), Buffer.from('a3'), Buffer.from('a4'));
    s.push(2, Buffer.from('b1'));
    s.push(3, Buffer.from('c1'), Buffer.from('c2'));
    s.pushUrgent(Buffer.from('credit'));
    expect(s.queued).toBe(20); // a1, on its way, still counts until written
    release();
    await s.idle();
    // a1 was on its way; then the credit, then a, b, c in turn, a's last frames after the others ran out.
    expect(order).toEqual(['a1', 'credit', 'a2', 'b1', 'c1', 'a3', 'c2', 'a4']);
    expect(s.queued).toBe(0);
  });

  it('goes on after a write that fails', async () => {
    const order: string[] = [];
    const s = new FrameScheduler(async (f) => {
      order.push(f.toString());
      if (f.toString() === 'x') throw new Error('port gone');
    });
    s.push(1, Buffer.from('x'), Buffer.from('y'));
    await s.idle();
    expect(order).toEqual(['x', 'y']);
  });
});

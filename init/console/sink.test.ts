// What a console or a remote terminal does with output its reader does not
// take: at most MAX_UNREAD_BYTES queued, the rest counted, and the count said
// once the reader catches up, so nothing is lost without a word. On a real
// node stream whose reading end is paused.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_UNREAD_BYTES, unreadBound } from './sink.js';

describe('unreadBound', () => {
  it('queues up to the limit, counts the rest, and says how many once the reader has caught up', async () => {
    const stream = new PassThrough({ highWaterMark: 64 * 1024 });
    const line = (i: number) => `${String(i).padStart(6, '0')} ${'x'.repeat(1000)}\n`;
    const write = unreadBound(stream, (t) => void stream.write(t), (t) => t.split('\n').length - 1, (n) => `left out ${n}\n`);
    for (let i = 0; i < 3000; i++) write(line(i)); // about 3 MiB, with nobody reading
    expect(stream.writableLength).toBeLessThan(MAX_UNREAD_BYTES + 2 * 1024);
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise((r) => setTimeout(r, 50));
    const lines = text.split('\n').filter(Boolean);
    const note = lines.at(-1)!;
    expect(note).toMatch(/^left out \d+$/);
    const written = lines.slice(0, -1);
    // The first lines in order, none cut, and every line either written or counted.
    written.forEach((l, i) => expect(l).toBe(line(i).trimEnd()));
    expect(written.length + Number(note.slice('left out '.length))).toBe(3000);
    // Caught up, it writes again, and a later stall is counted afresh.
    write('after\n');
    await new Promise((r) => setTimeout(r, 10));
    expect(text.endsWith(`${note}\nafter\n`)).toBe(true);
  });
});

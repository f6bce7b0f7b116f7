// Cutting output into lines: whole lines as they come, a last line without a
// newline kept, characters split across chunks rejoined, and a line that never
// ends cut into marked pieces of bounded length, with nothing lost.
import { describe, expect, it } from 'vitest';
import { LineSplitter } from './line-splitter.js';

function split(chunks: Array<Buffer | string>, max?: number): Array<[string, boolean]> {
  const out: Array<[string, boolean]> = [];
  const s = new LineSplitter((line, continued) => out.push([line, continued]), max);
  for (const c of chunks) s.write(Buffer.isBuffer(c) ? c : Buffer.from(c));
  s.end();
  return out;
}

describe('line splitter', () => {
  it('gives whole lines across chunks, and keeps a last line without a newline', () => {
    expect(split(['a\nb', 'c\n', '\nd'])).toEqual([['a', false], ['bc', false], ['', false], ['d', false]]);
  });

  it('rejoins a character split across chunks', () => {
    const euro = Buffer.from('€\n');
    expect(split([euro.subarray(0, 1), euro.subarray(1)])).toEqual([['€', false]]);
  });

  it('cuts a line past the limit into pieces, each after the first marked as continuing', () => {
    expect(split(['abcdefgh', 'ij\nxy\n'], 4)).toEqual([['abcd', false], ['efgh', true], ['ij', true], ['xy', false]]);
    // A line exactly at the limit is whole.
    expect(split(['abcd\n'], 4)).toEqual([['abcd', false]]);
  });

  it('never holds more than one line, and loses nothing, for output that never ends a line', () => {
    const pieces: string[] = [];
    let longest = 0;
    const s = new LineSplitter((line) => {
      pieces.push(line);
      longest = Math.max(longest, line.length);
    });
    const chunk = Buffer.alloc(65536, 0); // what `cat /dev/zero` writes
    for (let i = 0; i < 64; i++) s.write(chunk);
    s.end();
    expect(longest).toBe(16 * 1024);
    expect(pieces.join('').length).toBe(64 * 65536);
  });
});

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogRing, RotatingFile, type LogLine } from './log-ring.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const line = (n: number, attempt = 1): LogLine => ({ time: 0, stream: 'stdout', attempt, line: `line ${n}` });

describe('log ring', () => {
  it('keeps every line up to its line limit, then the newest, and counts what it dropped', () => {
    const ring = new LogRing(100, 1 << 20);
    for (let i = 1; i <= 250; i++) ring.push(line(i));
    const kept = ring.read();
    expect(kept.length).toBe(100);
    expect(kept[0]!.line).toBe('line 151');
    expect(kept[99]!.line).toBe('line 250');
    expect(ring.dropped).toBe(150);
  });

  it('holds to its byte limit, selects by attempt and tail, and feeds followers', () => {
    const ring = new LogRing(10_000, 100);
    const followed: string[] = [];
    const off = ring.follow((l) => followed.push(l.line));
    for (let i = 1; i <= 50; i++) ring.push(line(i, i <= 25 ? 1 : 2));
    off();
    ring.push(line(51, 2));
    const bytes = ring.read().reduce((n, l) => n + l.line.length + 1, 0);
    expect(bytes).toBeLessThanOrEqual(100);
    expect(ring.read({ attempt: 1 })).toEqual([]);
    expect(ring.read({ attempt: 2, tail: 2 }).map((l) => l.line)).toEqual(['line 50', 'line 51']);
    expect(followed.length).toBe(50);
  });

  it('rotates its file at the size limit and keeps the newest files', () => {
    const path = join(dir, 'svc.log');
    const ring = new LogRing(10, 1000, new RotatingFile(path, 200, 2));
    for (let i = 1; i <= 40; i++) ring.push(line(i));
    ring.close();
    expect(existsSync(`${path}.1`) && existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    expect(readFileSync(path, 'utf8').trim().split('\n').at(-1)).toMatch(/stdout #1 line 40$/);
    for (const f of [path, `${path}.1`, `${path}.2`]) expect(readFileSync(f).length).toBeLessThanOrEqual(200);
  });
});

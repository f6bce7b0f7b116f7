// The claim on a state directory with the real addon: flock(2) conflicts
// between two open files of one directory even in one process, so a second
// claim here stands for another keel-init's.
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimStateDir } from './state-claim.js';
import { sys } from './sys.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-claim-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('claimStateDir', () => {
  it('claims a directory it makes and says who holds it; a second claim is refused and names the holder', () => {
    const state = join(dir, 'state');
    expect(claimStateDir(sys(), state, 'namespace')).toEqual({ kind: 'claimed' });
    expect(JSON.parse(readFileSync(join(state, 'keel.owner'), 'utf8'))).toMatchObject({ pid: process.pid, pidNamespace: readlinkSync('/proc/self/ns/pid'), mode: 'namespace' });
    expect(claimStateDir(sys(), state, 'namespace')).toEqual({ kind: 'held', holder: `pid ${process.pid}` });
  });

  it('names the PID namespace of a holder in another one, and no one when the record says nothing usable', () => {
    const state = join(dir, 'state');
    expect(claimStateDir(sys(), state, 'namespace').kind).toBe('claimed');
    writeFileSync(join(state, 'keel.owner'), JSON.stringify({ pid: 1, pidNamespace: 'pid:[1]', mode: 'namespace' }));
    expect(claimStateDir(sys(), state, 'namespace')).toEqual({ kind: 'held', holder: 'pid 1 in another PID namespace, pid:[1]' });
    writeFileSync(join(state, 'keel.owner'), 'half a reco');
    expect(claimStateDir(sys(), state, 'namespace')).toEqual({ kind: 'held', holder: undefined });
  });

  it('is a failure with its reason, not a throw, when the directory cannot be made', () => {
    writeFileSync(join(dir, 'file'), '');
    const claim = claimStateDir(sys(), join(dir, 'file', 'state'), 'machine');
    expect(claim).toMatchObject({ kind: 'failed', error: expect.stringMatching(/ENOTDIR/) });
  });
});

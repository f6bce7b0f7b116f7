// One keel per state directory, against the real keel-init as PID 1 of PID
// namespaces: a second keel-init given the state directory of a live one is
// refused before it touches anything there; a keel killed with SIGKILL leaves
// no claim behind; and keel does not take keel.sock back from another server
// that answers at its path.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SOCKET_CHECK_MS } from '../api/server.js';
import { eventually, keelCliAt, requireDist, startKeel, type KeelNs } from './helpers/keel-ns.js';

const MANIFEST = `services:
  - name: idle
    kind: process
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
`;
const STACK_LINE = /^\s+at /m;

const keels: KeelNs[] = [];
let other: Server | undefined;
beforeAll(() => requireDist());
afterEach(() => {
  other?.close();
  other = undefined;
  for (const k of keels.splice(0).reverse()) k.cleanup();
});

function start(stateDir?: string): KeelNs {
  const k = startKeel(MANIFEST, {}, stateDir ? { stateDir } : {});
  keels.push(k);
  return k;
}

/** How the keel ended, or 'still running' after `ms`. */
function endOf(k: KeelNs, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  return Promise.race([k.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);
}

/** The events of `kind` in the keel.log of `stateDir`. */
function logged(stateDir: string, kind: string): Array<{ msg: string }> {
  return readFileSync(join(stateDir, 'keel.log'), 'utf8').split('\n').filter((l) => l.includes(`"kind":"${kind}"`)).map((l) => JSON.parse(l) as { msg: string });
}

const pidNamespaceOf = (k: KeelNs) => readlinkSync(`/proc/${k.hostPid()}/ns/pid`);
const refusal = (holder: KeelNs, state: string) => `ERROR: another keel-init (pid 1 in another PID namespace, ${pidNamespaceOf(holder)}) is running with the state directory ${state}, so this one stops (exit 1)`;

describe('a second keel-init on the state directory of a live one', () => {
  it('exits 1 with one line naming the directory, the other keel and the fix, and touches nothing there; the first keeps answering', async () => {
    const first = start();
    const state = join(first.dir, 'state');
    await first.waitFor(/boot complete/);
    const socket = lstatSync(join(state, 'keel.sock')).ino;
    const second = start(state);
    expect(await endOf(second, 20_000)).toEqual({ code: 1, signal: null });
    expect(second.output()).toContain(refusal(first, state));
    expect(second.output()).toContain('Give each keel its own --state-dir.');
    expect(second.output()).not.toMatch(STACK_LINE);
    // Its first line is its own (keel-init's start); nothing of it reached the first keel's log or socket.
    expect(logged(state, 'keel.start')).toHaveLength(1);
    expect(lstatSync(join(state, 'keel.sock')).ino).toBe(socket);
    const ps = keelCliAt(state, 'ps');
    expect(ps.status).toBe(0);
    expect(ps.stdout).toMatch(/^idle\s+ready/m);
  });
});

describe('a state directory keel-init cannot write', () => {
  it('exits 1 with one line naming it and the fix, no stack trace (a read-only bind mount)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-rostate-'));
    const ro = join(dir, 'ro');
    mkdirSync(join(dir, 'state'));
    mkdirSync(ro);
    // A read-only view of a directory: what a --read-only container or a mounted image gives.
    expect(spawnSync('mount', ['--bind', join(dir, 'state'), ro]).status).toBe(0);
    try {
      expect(spawnSync('mount', ['-o', 'remount,bind,ro', ro]).status).toBe(0);
      const k = start(ro);
      expect(await endOf(k, 20_000)).toEqual({ code: 1, signal: null });
      expect(k.output()).toContain(`ERROR: the state directory ${ro} cannot be written (EROFS): keel keeps its log, runc's state, the bundles and keel.sock there, so it stops (exit 1). Give --state-dir a writable directory.`);
      expect(k.output()).not.toMatch(STACK_LINE);
    } finally {
      spawnSync('umount', [ro]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a keel killed with SIGKILL', () => {
  it('leaves no claim: the next keel-init on its state directory starts, and holds the directory in its turn', async () => {
    const killed = start();
    const state = join(killed.dir, 'state');
    await killed.waitFor(/boot complete/);
    killed.signal('SIGKILL');
    await killed.exited;
    const next = start(state);
    await next.waitFor(/boot complete/);
    expect(keelCliAt(state, 'ps').stdout).toMatch(/^idle\s+ready/m);
    // Held now by the new keel, and named by its own record, not the dead one's.
    const third = start(state);
    expect(await endOf(third, 20_000)).toEqual({ code: 1, signal: null });
    expect(third.output()).toContain(refusal(next, state));
  });
});

describe('keel.sock taken by another server that answers', () => {
  it('is left to it, said once by name, and taken back once that server is gone', async () => {
    const k = start();
    const state = join(k.dir, 'state');
    const socket = join(state, 'keel.sock');
    await k.waitFor(/boot complete/);
    // Bound beside it and renamed over it: the path is never empty, so keel never finds it gone meanwhile.
    const beside = join(state, 'other.sock');
    const server = createServer((_req, res) => res.end('another server\n'));
    other = server;
    await new Promise<void>((r) => server.listen(beside, r));
    renameSync(beside, socket);
    const theirs = lstatSync(socket).ino;
    const logEnd = () => readFileSync(join(state, 'keel.log'), 'utf8').trimEnd().split('\n').slice(-8).join('\n');
    await eventually(() => logged(state, 'api.taken').length > 0, 3 * SOCKET_CHECK_MS, () => `keel to see the other server; its log ends:\n${logEnd()}`);
    await new Promise((r) => setTimeout(r, SOCKET_CHECK_MS + 1000)); // another check: still left alone, and not said again
    expect(lstatSync(socket).ino).toBe(theirs);
    expect(logged(state, 'api.taken').map((e) => e.msg)).toEqual([`control API: ${socket} is another server's socket now, and it answers; keel leaves it to that server and listens there again once it is gone`]);
    expect(logged(state, 'api.rebound')).toEqual([]);
    // Closed, the server leaves its socket at keel's path (node removes only the name it bound): dead, keel takes it back.
    await new Promise((r) => server.close(r));
    other = undefined;
    await eventually(() => keelCliAt(state, 'ps').status === 0, 3 * SOCKET_CHECK_MS, () => `keel to listen on its path again; its log ends:\n${logEnd()}`);
    expect(logged(state, 'api.rebound').map((e) => e.msg)).toEqual([`control API: ${socket} was replaced by a socket nobody listens on; keel listens there again`]);
  });
});

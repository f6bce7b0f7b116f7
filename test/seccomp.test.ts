// keel's default seccomp filter in real runc containers, keel-init as PID 1
// of a PID namespace: a static probe calls what the filter blocks and
// prints what each call gave, under the default filter, with none, and with
// every capability (which lets the capability-gated calls through).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelNs } from './helpers/keel-ns.js';
import { busyboxRootfs, shellEntry, staticTool } from './helpers/rootfs.js';

let fixtures: string;
let rootfs: string;
let keel: KeelNs | undefined;

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-seccomp-'));
  rootfs = busyboxRootfs(join(fixtures, 'busybox'));
  staticTool(rootfs, 'probe', 'seccomp/probe.c');
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

const PROBE = 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; /bin/probe';

/** What each onboot entry printed: entry name -> { "Seccomp:": "2", keyctl: "EPERM", … }. */
function results(output: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const m of output.matchAll(/^ {2}(\S+) \| (\S+)\s+(\S+)$/gm)) (out[m[1]!] ??= {})[m[2]!] = m[3]!;
  return out;
}

describe('seccomp', () => {
  it('blocks with EPERM by default, not with seccomp: unconfined, and lets capabilities through what they allow', async () => {
    keel = startKeel(
      'onboot:\n' +
        shellEntry(rootfs, 'confined', PROBE) +
        shellEntry(rootfs, 'unconfined', PROBE, 'seccomp: unconfined') +
        shellEntry(rootfs, 'privileged', PROBE, 'capabilities: [all]') +
        shellEntry(rootfs, 'privs', PROBE, 'noNewPrivileges: false'),
    );
    await keel.waitFor(/boot complete|EMERGENCY/, 60_000);
    const r = results(keel.output());
    expect(Object.keys(r).sort(), keel.output()).toEqual(['confined', 'privileged', 'privs', 'unconfined']);

    expect(r.confined).toEqual({
      'Seccomp:': '2',
      'NoNewPrivs:': '1',
      keyctl: 'EPERM',
      add_key: 'EPERM',
      userfaultfd: 'EPERM',
      io_uring_setup: 'EPERM',
      init_module: 'EPERM',
      unshare: 'EPERM',
      clone_newuser: 'EPERM',
    });
    // None of these needs a capability: without a filter each works. init_module needs CAP_SYS_MODULE (or a kernel with modules).
    expect(r.unconfined).toMatchObject({ 'Seccomp:': '0', keyctl: 'ok', add_key: 'ok', userfaultfd: 'ok', io_uring_setup: 'ok', unshare: 'ok', clone_newuser: 'ok' });
    // capabilities: [all] keeps a filter (the obsolete calls) that lets every capability-gated call reach the kernel.
    expect(r.privileged).toMatchObject({ 'Seccomp:': '2', keyctl: 'ok', add_key: 'ok', userfaultfd: 'ok', io_uring_setup: 'ok', unshare: 'ok', clone_newuser: 'ok' });
    expect(r.privileged!.init_module).not.toBe('EPERM');
    expect(r.privs).toMatchObject({ 'Seccomp:': '2', 'NoNewPrivs:': '0' });

    keel.signal('SIGTERM');
    expect(await keel.exited).toEqual({ code: 0, signal: null });
  });
});

// keel-init opts its own memory out of transparent huge pages, and what it
// starts does not inherit that: a process entry (the addon's spawn), a
// container (runc through the same spawn) and a program `keel exec` runs in
// it (runc exec through child_process) all keep the machine's policy. Real
// keel-init in a PID namespace, real runc; the kernel's own account in
// /proc/PID/status says which processes may have huge pages.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidOfCommand as pidOf } from './helpers/command-line.js';
import { eventually, keelCli as cli, startKeel, type KeelNs } from './helpers/keel-ns.js';
import { busyboxRootfs } from './helpers/rootfs.js';

let fixtures: string;
let keel: KeelNs | undefined;

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-thp-'));
});
afterAll(() => {
  keel?.cleanup();
  rmSync(fixtures, { recursive: true, force: true });
});

/** THP_enabled of /proc/PID/status: 0 once the process opted out (or inherited the opt-out). */
const thpEnabled = (pid: number) => /THP_enabled:\s*(\d)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

// A kernel built without transparent huge pages shows every process as 0: nothing to tell apart there.
describe.skipIf(!existsSync('/sys/kernel/mm/transparent_hugepage'))('transparent huge pages', () => {
  it('are off for keel-init and keep the machine policy for what it starts', async () => {
    const rootfs = busyboxRootfs(join(fixtures, 'rootfs'));
    keel = startKeel(
      'services:\n' +
        `  - name: proc\n    kind: process\n    command: ["sleep", "4242001"]\n` +
        `  - name: box\n    image: ${rootfs}\n    readonly: true\n    command: ["/bin/sleep", "4242002"]\n`,
    );
    await keel.waitFor(/all 2 service\(s\) ready/);
    // keel asks runc its version once the services are up: during that fork the opt-out is lifted, so look after it.
    await keel.waitFor(/runc \d+\.\d+/);
    expect(thpEnabled(keel.hostPid())).toBe('0');
    let processPid: number | undefined;
    let containerPid: number | undefined;
    await eventually(() => (processPid = pidOf('sleep', '4242001')) !== undefined && (containerPid = pidOf('/bin/sleep', '4242002')) !== undefined, 10_000, 'both sleepers');
    expect(thpEnabled(processPid!)).toBe('1');
    expect(thpEnabled(containerPid!)).toBe('1');
    const exec = cli(keel, 'exec', 'box', 'grep', 'THP_enabled', '/proc/self/status');
    expect(exec.stdout.trim()).toBe('THP_enabled:\t1');
  });
});

// Process entries on keel's own machine, where keel-init owns cgroup v2: each
// process entry gets a cgroup of its own with its limits, so a memory limit
// holds and its OOM kill is reported, as a container's is. (This host has
// cgroup v1; the namespace tests cover the path without a delegated cgroup.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BootReport } from '../api/wire.js';
import { requireDist } from './helpers/keel-ns.js';
import { bootVm, keelBuild } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-proc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MANIFEST = `kernel:
  cmdline: "console=ttyS0 quiet"
services:
  - name: hog
    kind: process
    restart: "no"
    command: ["sh", "-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=4"]
    resources:
      memory: {limit: 16m, swap: 16m}
  - name: calm
    kind: process
    command: ["sh", "-c", "cat /proc/self/cgroup; sleep 1000"]
    logs: {file: true}
`;

describe('process entries in a keel VM (cgroup v2)', () => {
  it('get a cgroup each: a memory limit holds and the OOM kill is reported', async () => {
    requireDist();
    writeFileSync(join(dir, 'procinit.yml'), MANIFEST);
    keelBuild(join(dir, 'procinit.yml'), dir);
    const vm = bootVm(join(dir, 'procinit'), join(dir, 'qmp.sock'));
    try {
      await vm.waitFor(/keel: ERROR: service hog was killed by the OOM killer \(SIGKILL\)/, 300_000);
      expect(vm.screen()).not.toMatch(/no cgroup for process entries/);
      const logs = await vm.keel('logs', 'calm');
      expect(logs.stdout).toMatch(/0::\/keel\/calm/);
      const inspect = JSON.parse((await vm.keel('inspect', 'hog')).stdout) as { exits: Array<{ oomKilled: boolean; signal: string | null }> };
      expect(inspect.exits.at(-1)).toMatchObject({ oomKilled: true, signal: 'SIGKILL' });
      // Where the CPU went until the services were ready: keel-init's share is part of the machine's busy time.
      const { cpuAtReady: cpu } = JSON.parse((await vm.keel('boot-report')).stdout) as BootReport;
      expect(cpu?.keelInitMs).toBeGreaterThan(0);
      expect(cpu?.machineBusyMs).toBeGreaterThanOrEqual(cpu?.keelInitMs ?? Infinity);
      expect(cpu?.machineIdleMs).toBeGreaterThanOrEqual(0);
      await vm.keel('poweroff');
      expect(await vm.exited).toBe(0);
    } finally {
      vm.stop();
    }
  }, 480_000);
});

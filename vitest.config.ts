import { defineConfig } from 'vitest/config';

// Real processes, namespaces and VMs: generous limits, and at most two files at once on 2 cores.
// VM boots (qemu under TCG, a whole core each for minutes) run after everything else: beside a
// runc test they starved it of CPU and its waits ran out on a 2-core machine.
const shared = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
  maxWorkers: 2,
};
const VM_TESTS = 'test/vm*.test.ts';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'host', include: ['{model,events,runtime,services,api,init,pkg,test}/**/*.test.ts'], exclude: [VM_TESTS, '**/node_modules/**'], sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'vm', include: [VM_TESTS], sequence: { groupOrder: 1 } } },
    ],
  },
});

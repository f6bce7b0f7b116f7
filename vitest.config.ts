import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'init/**/*.test.ts', 'pkg/**/*.test.ts', 'services/**/*.test.ts', 'runtime/**/*.test.ts'],
    // Real processes, namespaces and VMs: generous limits, and at most two files at once on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});

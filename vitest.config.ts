import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{model,events,runtime,services,api,init,pkg,test}/**/*.test.ts'],
    // Real processes, namespaces and VMs: generous limits, and at most two files at once on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});

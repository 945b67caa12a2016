import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Synthesizing apps is CPU- and memory-heavy; CI has 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    env: { CDK_VALIDATION: 'false' },
  },
});

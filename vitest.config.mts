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
    // The AWS SDK warns once per process that its 2027 releases need Node 22; the pins here run on Node 20
    // (TOOLCHAIN.md), so the warning is noise in test output. Child processes inherit it.
    env: { CDK_VALIDATION: 'false', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests start real servers with worker threads; running many
    // files at once on a 2-core machine only makes them slower and flakier.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        // In-process tests of one module at a time: no dist/, no threads, no sockets to spare.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Servers run their threads from dist/: build it first, so a test never runs stale code.
          globalSetup: ['test/setup/build-dist.ts'],
        },
      },
    ],
  },
});

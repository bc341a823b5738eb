import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests start real servers with worker threads; running many
    // files at once on a 2-core machine only makes them slower and flakier.
    fileParallelism: true,
    maxWorkers: 2,
  },
});

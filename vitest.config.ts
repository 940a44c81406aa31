import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20000,
    hookTimeout: 20000,
    // Integration tests spawn brokers and clients; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
  },
});

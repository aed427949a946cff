import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['services/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Suites start real services on loopback; two cores are shared, so run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});

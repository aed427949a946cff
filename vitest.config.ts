import { defineConfig } from 'vitest/config';

/** In-process tests: no model files, no network, no child processes (`pnpm test:unit`). */
const UNIT = ['services/*/test/**/*.unit.test.ts', 'tests/**/*.unit.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: UNIT,
          testTimeout: 20_000,
          // Files share their worker's modules: the service libraries (onnxruntime, sharp, the
          // network) are imported once per worker, not once per file, which is most of this
          // tier's time. Unit tests keep no global state (no vi.mock, no process.env changes).
          isolate: false,
          // Runs first, so a broken unit fails the run in seconds.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'system',
          include: ['services/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...UNIT],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Suites start real services on loopback; two cores are shared, so run files one at a time.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

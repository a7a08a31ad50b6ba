import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Hang-catchers, not time bounds: generous enough for `npm run test:under-load` (a busy process per core).
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
    // Two cores: two test files at a time, each in its own database.
    maxWorkers: 2,
  },
});

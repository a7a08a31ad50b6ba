import { defineConfig } from 'vitest/config';

// The run that test/integration/interrupted-run.test.ts interrupts: the suite's real global setup
// (its PostgreSQL server) and one test that waits until it is killed.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/interrupt/waits.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 600_000,
  },
});

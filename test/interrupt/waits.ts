import { writeFileSync } from 'node:fs';
import { inject, it } from 'vitest';

// Says where the run's server listens (for the test that interrupts this run), then waits.
it('waits to be interrupted', async () => {
  writeFileSync(process.env.INTERRUPT_MARKER!, JSON.stringify(inject('pgAdmin')));
  await new Promise((resolve) => setTimeout(resolve, 600_000));
});

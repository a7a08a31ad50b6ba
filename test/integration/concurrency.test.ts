import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp } from '../../src/app.js';
import { createRecord } from '../../src/records/records.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// An empty database: the twenty commands also race to run the migrations (advisory lock).
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const year = new Date().getFullYear();

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  env = testEnv(db.url, await tempDir(), { DOSSIER_DATABASE__POOL_SIZE: '2' });
});
afterAll(() => db.drop());

describe('reference numbers under concurrency', () => {
  it('gives 20 concurrent creates 20 distinct, consecutive references', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => dossier(['record', 'create', 'deal'], env)));
    expect(results.map((r) => r.stderr).filter(Boolean)).toEqual([]);
    const refs = results.map((r) => r.stdout).sort();
    expect(new Set(refs).size).toBe(20);
    expect(refs).toEqual(Array.from({ length: 20 }, (_, i) => `DL-${year}-${String(i + 1).padStart(5, '0')}`));
  });

  it('gives a number back when the create fails after taking it (no gap)', async () => {
    const app = await openApp({ env, cwd: process.cwd() });
    try {
      // schema_version is an integer column: 1.5 makes the INSERT fail after the counter moved.
      await expect(createRecord(app.db, app.config, cliActor(env), { type: 'deal', schemaVersion: 1.5 })).rejects.toThrow(/integer/);
    } finally {
      await app.close();
    }
    expect((await dossier(['record', 'create', 'deal'], env)).stdout).toBe(`DL-${year}-00021`);
    expect((await dossier(['record', 'create', 'claim'], env)).stdout).toBe(`CL-${year}-00001`);
  });
});

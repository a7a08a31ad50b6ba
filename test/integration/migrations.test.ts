import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../src/db/migrate.js';
import { createPool, type Db } from '../../src/db/pool.js';
import { migrationsDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: Db;

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  pool = createPool(db.config, 4);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('migrations', () => {
  it('applies every numbered file once, in order, even when started concurrently', async () => {
    const all = await readMigrations();
    const runs = await Promise.all([migrate(pool), migrate(pool), migrate(pool)]);
    expect(runs.flatMap((r) => r.applied).sort()).toEqual(all.map((m) => m.name).sort());
    const rows = (await pool.query('SELECT name FROM schema_migrations ORDER BY version')).rows.map((r) => r.name);
    expect(rows).toEqual(all.map((m) => m.name));
    expect((await migrate(pool)).applied).toEqual([]);
  });

  it('`dossier db migrate` reports the schema version', async () => {
    const r = await dossier(['db', 'migrate', '--json'], testEnv(db.url, await tempDir()));
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ applied: [], version: (await readMigrations()).at(-1)!.version });
  });

  it('refuses to run when an applied migration was edited', async () => {
    const dir = await tempDir();
    await cp(migrationsDir, dir, { recursive: true });
    const first = path.join(dir, (await readMigrations()).at(0)!.name);
    await writeFile(first, (await readFile(first, 'utf8')) + '\n-- edited\n');
    await expect(migrate(pool, dir)).rejects.toMatchObject({ code: 'MIGRATION_CHANGED' });
  });

  it('rolls back a failing migration entirely and names it', async () => {
    const dir = await tempDir();
    await cp(migrationsDir, dir, { recursive: true });
    await writeFile(path.join(dir, '9999_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n');
    await expect(migrate(pool, dir)).rejects.toMatchObject({ code: 'MIGRATION_FAILED', message: expect.stringContaining('9999_broken.sql') });
    const t = await pool.query("SELECT to_regclass('half_done') AS t");
    expect(t.rows[0].t).toBeNull();
  });
});

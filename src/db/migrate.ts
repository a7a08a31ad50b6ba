import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DossierError } from '../errors.js';
import { migrationsDir } from '../paths.js';
import type { Db } from './pool.js';

// Numbered plain-SQL migrations (0001_init.sql, 0002_….sql), each applied once, in order, in its own
// transaction, under an advisory lock so that processes starting together do not race.
const LOCK_KEY = 7_305_211_001; // arbitrary, constant: "dossier migrations"

export interface Migration { version: number; name: string; sql: string; checksum: string }

export async function readMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (f) => {
      const sql = await readFile(path.join(dir, f), 'utf8');
      return { version: Number(f.slice(0, 4)), name: f, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

export async function migrate(db: Db, dir = migrationsDir): Promise<{ applied: string[] }> {
  const migrations = await readMigrations(dir);
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map(
      (await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations')).rows.map((r) => [r.version, r]),
    );
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new DossierError('MIGRATION_CHANGED', `Migration ${m.name} was changed after it was applied to this database.`, {
            hint: 'Never edit an applied migration: restore it and put the change in a new numbered file.',
          });
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
        applied.push(m.name);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new DossierError('MIGRATION_FAILED', `Migration ${m.name} failed: ${(err as Error).message}`, {
          hint: 'Nothing of this migration was applied. Fix the SQL or the database and run `dossier db migrate` again.',
          cause: err,
        });
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    client.release();
  }
  return { applied };
}

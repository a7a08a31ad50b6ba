import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransientDbError } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// Which database errors mean "try again later" (the message stays unprocessed) and which are a
// verdict on the work (the message fails with the reason): provoked on a real server.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('isTransientDbError', () => {
  it('a connection the server terminated (as on a restart) is transient', async () => {
    const victim = new pg.Client(db.config);
    victim.on('error', () => {});
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const admin = new pg.Client(db.config);
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    const err = await errorOf(() => victim.query('SELECT 1'));
    expect(isTransientDbError(err)).toBe(true);
    await victim.end().catch(() => {});
  });

  it('a server that is not there is transient', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: 1, user: 'x', database: 'x', connectionTimeoutMillis: 2000 });
    const err = await errorOf(() => c.connect());
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isTransientDbError(err)).toBe(true);
  });

  it('a mistake in the work (bad SQL, a broken constraint) is not', async () => {
    const c = new pg.Client(db.config);
    await c.connect();
    try {
      expect(isTransientDbError(await errorOf(() => c.query('SELEC 1')))).toBe(false);
      await c.query('CREATE TEMP TABLE u (x int UNIQUE)');
      await c.query('INSERT INTO u VALUES (1)');
      expect(isTransientDbError(await errorOf(() => c.query('INSERT INTO u VALUES (1)')))).toBe(false);
      expect(isTransientDbError(new Error('the message has no From'))).toBe(false);
    } finally {
      await c.end();
    }
  });
});

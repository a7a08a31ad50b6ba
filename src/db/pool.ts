import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;
/** Anything that can run a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

// int8 (bigserial ids, counts) as JS numbers: ours stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
// numeric stays a string: money is handled as exact decimal text, never as a float.

export function createPool(connection: pg.PoolConfig, size: number): Db {
  const pool = new pg.Pool({ ...connection, max: size });
  // An idle client's error (server restart) must not crash the process; the next query reports it.
  pool.on('error', () => {});
  // The pool listens for errors only on idle clients: a checked-out client between two queries (in
  // a transaction, or the worker's advisory-lock session) that hears "terminating connection due to
  // administrator command" on a server restart would emit an 'error' nobody handles, and the whole
  // worker would die. A listener for the client's lifetime keeps the process up; the client is then
  // unusable, so its next query fails (caught where it is made) and the pool discards it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export async function withTransaction<T>(db: Db, fn: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

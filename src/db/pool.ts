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

/**
 * The database went away or is refusing for now (a restart, a dropped connection, too many
 * clients, a deadlock): worth trying again later, never a verdict on the work itself.
 */
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  const code = e.code ?? '';
  if (/^08/.test(code) || ['57P01', '57P02', '57P03', '53300', '40001', '40P01'].includes(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOENT'].includes(code) && /connect|socket|read|write/i.test(e.message ?? '')) return true;
  return /Connection terminated|connection error and is not queryable|Client was closed|timeout exceeded when trying to connect/i.test(e.message ?? '');
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  name: string;
  /** A postgres:// URL for DATABASE_URL (the Unix socket directory goes in the host parameter). */
  url: string;
  config: pg.ClientConfig;
  drop(): Promise<void>;
}

function urlFor(admin: pg.ClientConfig, database: string): string {
  if (admin.connectionString) {
    const u = new URL(admin.connectionString);
    u.pathname = '/' + database;
    return u.toString();
  }
  const user = encodeURIComponent(String(admin.user ?? 'postgres'));
  const host = String(admin.host ?? 'localhost');
  return host.startsWith('/')
    ? `postgresql://${user}@localhost:${admin.port ?? 5432}/${database}?host=${encodeURIComponent(host)}`
    : `postgresql://${user}@${host}:${admin.port ?? 5432}/${database}`;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(inject('pgAdmin'));
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database for one test file: a clone of the migrated template, or empty when asked. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${opts.empty ? '' : ' TEMPLATE dossier_template'}`));
  const cfg = inject('pgAdmin');
  const config: pg.ClientConfig = cfg.connectionString ? { connectionString: urlFor(cfg, name) } : { ...cfg, database: name };
  return {
    name,
    url: urlFor(cfg, name),
    config,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** Rows of one query on a test database (what a user would see with psql). */
export async function sqlRows<T extends pg.QueryResultRow>(db: TestDatabase, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client(db.config);
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedHandle } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';

// One real PostgreSQL server for the whole run: TEST_DATABASE_URL if given, otherwise an embedded
// server in a temporary directory (the same code path Dossier uses by default). A template database is
// migrated once; each test file clones it into a database of its own.

export const TEMPLATE_DB = 'dossier_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdmin: pg.ClientConfig;
  }
}

let embedded: EmbeddedHandle | null = null;
let home: string | null = null;

export async function setup(project: TestProject) {
  let admin: pg.ClientConfig;
  if (process.env.TEST_DATABASE_URL) {
    admin = { connectionString: process.env.TEST_DATABASE_URL };
  } else {
    home = await mkdtemp(path.join(os.tmpdir(), 'dossier-test-pg-'));
    embedded = await startEmbedded(home);
    admin = { ...embedded.connection, database: 'postgres' };
  }
  const c = new pg.Client(admin);
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await c.end();
  const pool = createPool({ ...admin, database: TEMPLATE_DB }, 2);
  await migrate(pool);
  await pool.end();
  project.provide('pgAdmin', admin);
}

export async function teardown() {
  if (embedded) await embedded.release();
  if (home) await rm(home, { recursive: true, force: true });
}

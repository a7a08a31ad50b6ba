import { existsSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * Everything the run created outside the test databases: the server's home, and where the cluster
 * and its socket went when the home was out of the server user's reach (see db/embedded.ts).
 */
function createdPaths(): string[] {
  if (!home) return [];
  const l = embedded?.layout;
  return [home, ...(l && !l.root.startsWith(home) ? [l.root] : []), ...(l && !l.run.startsWith(l.root) ? [l.run] : [])];
}

/**
 * An interrupted run (Ctrl-C, a CI timeout's SIGTERM) must not leave its server behind: vitest's own
 * signal handling does not wait for an async teardown, so this stops the postmaster synchronously —
 * SIGQUIT, PostgreSQL's immediate shutdown (nothing to keep: every database here is a test's) — and
 * removes what the run created, from the 'exit' event, which every way out of the process passes.
 */
function stopNow(): void {
  if (!embedded || !home) return;
  const pidFile = `${embedded.layout.data}/postmaster.pid`;
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n', 1)[0]) : NaN;
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGQUIT');
      const deadline = Date.now() + 10_000;
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (;;) {
        process.kill(pid, 0); // throws once the process is gone
        if (Date.now() > deadline) break;
        Atomics.wait(pause, 0, 0, 50);
      }
    } catch {
      // gone (or never ours)
    }
  }
  for (const p of createdPaths()) rmSync(p, { recursive: true, force: true });
  embedded = null;
  home = null;
}

const onSignal = (signal: NodeJS.Signals) => {
  stopNow();
  process.exit(signal === 'SIGINT' ? 130 : 143);
};

export async function setup(project: TestProject) {
  let admin: pg.ClientConfig;
  if (process.env.TEST_DATABASE_URL) {
    admin = { connectionString: process.env.TEST_DATABASE_URL };
  } else {
    home = await mkdtemp(path.join(os.tmpdir(), 'dossier-test-pg-'));
    process.once('exit', stopNow);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
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
  process.off('exit', stopNow);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const paths = createdPaths();
  if (embedded) await embedded.release();
  for (const p of paths) await rm(p, { recursive: true, force: true });
  embedded = null;
  home = null;
}

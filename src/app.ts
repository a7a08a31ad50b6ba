import os from 'node:os';
import path from 'node:path';
import { loadConfig, type LoadConfigOptions } from './config/load.js';
import type { Config } from './config/schema.js';
import { startEmbedded, type EmbeddedHandle } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createPool, type Db } from './db/pool.js';
import { DossierError } from './errors.js';
import { redactUrl } from './redact.js';
import { fieldSchemasDir, templatesDir } from './paths.js';
import { SchemaRegistry } from './schemas/registry.js';
import { FsBlobStore, type BlobStore } from './storage/blobs.js';
import { PgBlobStore } from './storage/pg-blobs.js';

/** Who made a change, for the audit trail: a person at the CLI, a message, an import, the worker. */
export interface Actor {
  id: string; // cli:anna, message:42, import:parties.csv
  source: 'cli' | 'message' | 'import' | 'worker';
}

export interface App {
  config: Config;
  configFiles: string[];
  home: string;
  db: Db;
  blobs: BlobStore;
  schemas: SchemaRegistry;
  /** Document templates and package profiles. */
  templatesDir: string;
  embedded: EmbeddedHandle | null;
  /** DNS for DKIM verification (staffAuth: mailauth); the system resolver when unset. */
  dnsResolver?: (name: string, rrtype: string) => Promise<unknown>;
  close(): Promise<void>;
}

export interface OpenAppOptions extends LoadConfigOptions {
  /** Progress lines (starting the embedded server …) for the operator. */
  onLog?: (line: string) => void;
  /** Run pending migrations (default true: the schema is always brought up to date at start-up). */
  migrate?: boolean;
}

export function cliActor(env: NodeJS.ProcessEnv = process.env): Actor {
  let name = env.DOSSIER_USER;
  if (!name) {
    try {
      name = os.userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  return { id: `cli:${name}`, source: 'cli' };
}

export async function openApp(options: OpenAppOptions = {}): Promise<App> {
  const { config, files, home } = loadConfig(options);
  let embedded: EmbeddedHandle | null = null;
  let db: Db;
  if (config.database.url) {
    db = createPool({ connectionString: config.database.url, application_name: `dossier:${process.pid}` }, config.database.poolSize);
  } else {
    embedded = await startEmbedded(home, options.onLog ? { onLog: options.onLog } : {});
    db = createPool(embedded.connection, config.database.poolSize);
  }
  let closing: Promise<void> | null = null;
  let pgBlobs: PgBlobStore | null = null; // storage.blobs: postgres — on a pool of its own, ended here
  const close = () =>
    (closing ??= (async () => {
      await pgBlobs?.close();
      await db.end().catch(() => {});
      if (embedded) await embedded.release();
    })());
  try {
    await db.query('SELECT 1');
    if (options.migrate !== false) await migrate(db);
  } catch (err) {
    await close();
    if (err instanceof DossierError) throw err;
    throw new DossierError('DB_UNAVAILABLE', `Cannot use the database${config.database.url ? ' at ' + redactUrl(config.database.url) : ''}: ${(err as Error).message}`, {
      hint: 'Check that PostgreSQL is running and DATABASE_URL (or database.url) is right; leave it empty to use the embedded server.',
      cause: err,
    });
  }
  const schemasDir = config.schemas.dir ? path.resolve(options.cwd ?? process.cwd(), config.schemas.dir) : fieldSchemasDir;
  const templates = config.templates.dir ? path.resolve(options.cwd ?? process.cwd(), config.templates.dir) : templatesDir;
  if (config.storage.blobs === 'postgres') pgBlobs = PgBlobStore.withOwnPool(db);
  const blobs: BlobStore = pgBlobs ?? new FsBlobStore(path.join(home, 'blobs'));
  return { config, configFiles: files, home, db, blobs, schemas: new SchemaRegistry(db, schemasDir), templatesDir: templates, embedded, close };
}

// Passwords and query secrets out of URLs: src/redact.ts (every form of them).
export { redactUrl };

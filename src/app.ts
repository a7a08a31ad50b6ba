import { existsSync } from 'node:fs';
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

/**
 * The person at the CLI, for the audit trail: DOSSIER_USER if set (a shared service account, a
 * script acting for someone), else the person behind sudo (SUDO_USER: on a shared server staff
 * run Dossier as root or as the dossier user through sudo), else the login name.
 */
export function cliActor(env: NodeJS.ProcessEnv = process.env, loginName: () => string = () => os.userInfo().username): Actor {
  const pick = (v: string | undefined) => (v && v.trim() && v.trim() !== 'root' ? v.trim() : undefined);
  let name = env.DOSSIER_USER?.trim() || pick(env.SUDO_USER);
  if (!name) {
    try {
      name = loginName();
    } catch {
      name = pick(env.LOGNAME) ?? pick(env.USER) ?? 'unknown';
    }
  }
  return { id: `cli:${name}`, source: 'cli' };
}

export async function openApp(options: OpenAppOptions = {}): Promise<App> {
  const { config, files, home, configFile } = loadConfig(options);
  // Before the data home stopped depending on the working folder, it was ./.dossier wherever a
  // command ran: say where such data is rather than let it look lost.
  const old = path.join(options.cwd ?? process.cwd(), '.dossier');
  if (!configFile && !(options.env ?? process.env).DOSSIER_HOME && old !== home && existsSync(path.join(old, 'pg'))) {
    options.onLog?.(`note: using the data home ${home}; there is older Dossier data in ${old} — to use it, set DOSSIER_HOME=${old} (\`dossier where\` explains).`);
  }
  let embedded: EmbeddedHandle | null = null;
  let db: Db;
  if (config.database.url) {
    db = createPool({ connectionString: config.database.url, application_name: `dossier:${process.pid}` }, config.database.poolSize);
  } else {
    embedded = await startEmbedded(home, { idleSeconds: config.database.embeddedIdleSeconds, ...(options.onLog ? { onLog: options.onLog } : {}) });
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
  // Relative folders in the configuration are relative to its file, not to wherever the command runs.
  const base = configFile ? path.dirname(configFile) : (options.cwd ?? process.cwd());
  const schemasDir = config.schemas.dir ? path.resolve(base, config.schemas.dir) : fieldSchemasDir;
  const templates = config.templates.dir ? path.resolve(base, config.templates.dir) : templatesDir;
  if (config.storage.blobs === 'postgres') pgBlobs = PgBlobStore.withOwnPool(db);
  const blobs: BlobStore = pgBlobs ?? new FsBlobStore(path.join(home, 'blobs'));
  return { config, configFiles: files, home, db, blobs, schemas: new SchemaRegistry(db, schemasDir), templatesDir: templates, embedded, close };
}

// Passwords and query secrets out of URLs: src/redact.ts (every form of them).
export { redactUrl };

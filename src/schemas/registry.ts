import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Actor } from '../app.js';
import { withTransaction, type Db } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { recordEvent } from '../records/events.js';
import { formatProblem, loadRoles, loadSchemaFile, roleProblems, ROLES_FILE, schemaFileName, sha256Of, type FieldRoles, type SchemaProblem } from './load.js';
import type { FieldDef, SchemaVersion, SectionDef } from './types.js';
import { crossVersionProblems } from './versions.js';

// Which schema versions exist (files) and which are published (the lock file published.yaml, kept
// beside the schemas and committed with them, and the schema_versions table). A published version's
// file may never change again: its checksum is checked each time the version is used.

export const LOCK_FILE = 'published.yaml';

interface StoredDefinition { type: string; version: number; title: SchemaVersion['title']; notes?: string; sections: SectionDef[] }

function fromStored(def: StoredDefinition, file: string, sha256: string): SchemaVersion {
  const fields = new Map<string, FieldDef>();
  for (const s of def.sections) for (const f of s.fields) fields.set(f.id, f);
  const v: SchemaVersion = { type: def.type, version: def.version, title: def.title, sections: def.sections, fields, file, sha256 };
  if (def.notes) v.notes = def.notes;
  return v;
}

function toStored(v: SchemaVersion): StoredDefinition {
  return { type: v.type, version: v.version, title: v.title, ...(v.notes ? { notes: v.notes } : {}), sections: v.sections };
}

export interface VersionInfo { type: string; version: number; file: string; published: { sha256: string; at: Date; by: string } | null; changedSincePublished: boolean }

export class SchemaRegistry {
  private synced: Promise<void> | null = null;
  private cache = new Map<string, SchemaVersion>();

  private fieldRoles: FieldRoles | null = null;

  constructor(private readonly db: Db, readonly dir: string) {}

  /** Field roles (roles.yaml: which field is the decision, the client's name…), read once. */
  roles(): FieldRoles {
    return (this.fieldRoles ??= loadRoles(this.dir).roles);
  }

  fileOf(type: string, version: number): string {
    return path.join(this.dir, type, `v${version}.yaml`);
  }

  /** Types and versions that have a file, sorted. */
  files(type?: string): { type: string; version: number; file: string }[] {
    if (!existsSync(this.dir)) return [];
    const types = type ? [type] : readdirSync(this.dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    return types
      .flatMap((t) => (existsSync(path.join(this.dir, t)) ? readdirSync(path.join(this.dir, t)).map((f) => path.join(this.dir, t, f)) : []))
      .map((file) => ({ ...schemaFileName(file)!, file }))
      .filter((x) => x.version !== undefined && !Number.isNaN(x.version))
      .sort((a, b) => a.type.localeCompare(b.type) || a.version - b.version);
  }

  readLock(): Record<string, Record<string, string>> {
    const file = path.join(this.dir, LOCK_FILE);
    if (!existsSync(file)) return {};
    return (YAML.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>> | null) ?? {};
  }

  private writeLock(lock: Record<string, Record<string, string>>): void {
    const header = '# Published field schema versions and the sha256 of each file. A version listed here never\n# changes: make v(N+1) instead. Written by `dossier schema publish`; commit it with the schemas.\n';
    const file = path.join(this.dir, LOCK_FILE);
    try {
      writeFileSync(file, header + YAML.stringify(lock));
    } catch (err) {
      throw new DossierError('SCHEMA_INVALID', `Cannot write ${file}: ${(err as Error).message}. Nothing was published.`, {
        hint: 'Publish from a checkout of the schemas you can write to (schemas.dir in the configuration), then commit published.yaml.',
      });
    }
  }

  /** Versions published in the lock file but not yet in this database are stored (once per process). */
  sync(): Promise<void> {
    this.synced ??= (async () => {
      const lock = this.readLock();
      const known = new Set((await this.db.query<{ k: string }>(`SELECT type || ':' || version AS k FROM schema_versions`)).rows.map((r) => r.k));
      for (const [type, versions] of Object.entries(lock)) {
        for (const [v, sha] of Object.entries(versions)) {
          const version = Number(v.replace(/^v/, ''));
          if (known.has(`${type}:${version}`)) continue;
          const schema = this.parseOrThrow(type, version);
          if (schema.sha256 !== sha) throw this.changedError(type, version);
          await this.db.query(
            `INSERT INTO schema_versions (type, version, sha256, definition, published_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
            [type, version, sha, JSON.stringify(toStored(schema)), `lock:${LOCK_FILE}`],
          );
        }
      }
    })();
    return this.synced;
  }

  private changedError(type: string, version: number): DossierError {
    return new DossierError('SCHEMA_PUBLISHED_CHANGED', `${this.fileOf(type, version)} was changed after ${type} v${version} was published.`, {
      hint: `A published version never changes: restore the file (e.g. git checkout -- ${path.relative(process.cwd(), this.fileOf(type, version))}) and put the change in v${version + 1}.yaml, then publish that.`,
    });
  }

  private parseOrThrow(type: string, version: number): SchemaVersion {
    const file = this.fileOf(type, version);
    if (!existsSync(file)) throw new DossierError('SCHEMA_NOT_FOUND', `There is no file for ${type} v${version} (${file}).`, { hint: `See \`dossier schema list\`.` });
    const { schema, problems } = loadSchemaFile(file);
    if (!schema) {
      throw new DossierError('SCHEMA_INVALID', `${file} has ${problems.length} problem(s):\n  - ${problems.map(formatProblem).join('\n  - ')}`, {
        hint: 'Fix them and run `dossier schema validate`.',
        details: { problems },
      });
    }
    return schema;
  }

  /** Every problem of every file (of one type), the rules between versions, and edited published files. */
  async validate(type?: string): Promise<{ files: string[]; problems: SchemaProblem[] }> {
    const files = this.files(type);
    if (type && files.length === 0) throw new DossierError('SCHEMA_NOT_FOUND', `There are no schema files for "${type}" in ${this.dir}.`);
    const problems: SchemaProblem[] = [];
    const byType = new Map<string, SchemaVersion[]>();
    for (const f of files) {
      const r = loadSchemaFile(f.file);
      problems.push(...r.problems);
      // A file with problems still takes part in the checks between versions (with what could be read).
      const readable = r.schema ?? (r.partial && r.partial.version === f.version && r.partial.type === f.type ? r.partial : null);
      if (readable) byType.set(f.type, [...(byType.get(f.type) ?? []), readable]);
    }
    for (const versions of byType.values()) problems.push(...crossVersionProblems(versions));
    const roles = loadRoles(this.dir);
    problems.push(...roles.problems);
    for (const versions of byType.values()) problems.push(...roleProblems(roles.roles, versions, path.join(this.dir, ROLES_FILE)));
    const published = await this.publishedRows(type);
    for (const p of published) {
      const file = this.fileOf(p.type, p.version);
      const sha = existsSync(file) ? sha256Of(readFileSync(file)) : null;
      if (sha !== p.sha256) {
        problems.push({ file, line: 1, message: sha === null ? `${p.type} v${p.version} is published but its file is gone: restore it` : `changed after ${p.type} v${p.version} was published: restore it and make v${p.version + 1} instead` });
      }
    }
    return { files: files.map((f) => f.file), problems };
  }

  private async publishedRows(type?: string) {
    await this.sync();
    return (
      await this.db.query<{ type: string; version: number; sha256: string; published_at: Date; published_by: string }>(
        `SELECT type, version, sha256, published_at, published_by FROM schema_versions WHERE ($1::text IS NULL OR type = $1) ORDER BY type, version`,
        [type ?? null],
      )
    ).rows;
  }

  async list(type?: string): Promise<VersionInfo[]> {
    const published = new Map((await this.publishedRows(type)).map((r) => [`${r.type}:${r.version}`, r]));
    const out: VersionInfo[] = this.files(type).map((f) => {
      const p = published.get(`${f.type}:${f.version}`);
      published.delete(`${f.type}:${f.version}`);
      const changed = p ? sha256Of(readFileSync(f.file)) !== p.sha256 : false;
      return { type: f.type, version: f.version, file: f.file, published: p ? { sha256: p.sha256, at: p.published_at, by: p.published_by } : null, changedSincePublished: changed };
    });
    for (const p of published.values()) out.push({ type: p.type, version: p.version, file: this.fileOf(p.type, p.version), published: { sha256: p.sha256, at: p.published_at, by: p.published_by }, changedSincePublished: true });
    return out;
  }

  async newestPublished(type: string): Promise<number | null> {
    await this.sync();
    const r = await this.db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_versions WHERE type = $1', [type]);
    return r.rows[0]?.v ?? null;
  }

  /**
   * A published version, from the definition stored when it was published. Refused when its file was
   * edited since (the edit would silently not apply, and the file would no longer say what records use).
   */
  async published(type: string, version: number): Promise<SchemaVersion> {
    const key = `${type}:${version}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    await this.sync();
    const row = (await this.db.query<{ sha256: string; definition: StoredDefinition }>('SELECT sha256, definition FROM schema_versions WHERE type = $1 AND version = $2', [type, version])).rows[0];
    if (!row) {
      throw new DossierError('SCHEMA_NOT_PUBLISHED', `${type} v${version} is not published.`, { hint: `Publish it with \`dossier schema publish ${type} v${version}\`, or see \`dossier schema list\`.` });
    }
    const file = this.fileOf(type, version);
    if (!existsSync(file) || sha256Of(readFileSync(file)) !== row.sha256) throw this.changedError(type, version);
    const schema = fromStored(row.definition, file, row.sha256);
    this.cache.set(key, schema);
    return schema;
  }

  /** Any version: the published definition when published, else the file as it is now. */
  async any(type: string, version: number): Promise<SchemaVersion & { isPublished: boolean }> {
    await this.sync();
    const row = await this.db.query('SELECT 1 FROM schema_versions WHERE type = $1 AND version = $2', [type, version]);
    if (row.rowCount) return { ...(await this.published(type, version)), isPublished: true };
    return { ...this.parseOrThrow(type, version), isPublished: false };
  }

  async publish(type: string, version: number, actor: Actor): Promise<{ sha256: string; already: boolean }> {
    await this.sync();
    const { problems } = await this.validate(type);
    const mine = problems.filter((p) => p.file === this.fileOf(type, version) || crossVersionProblem(p));
    if (mine.length) {
      throw new DossierError('SCHEMA_INVALID', `${type} v${version} cannot be published: ${mine.length} problem(s):\n  - ${mine.map(formatProblem).join('\n  - ')}`, {
        hint: 'Fix them (dossier schema validate) and publish again.',
        details: { problems: mine },
      });
    }
    const schema = this.parseOrThrow(type, version);
    const newest = await this.newestPublished(type);
    return withTransaction(this.db, async (c) => {
      const prior = (await c.query<{ sha256: string }>('SELECT sha256 FROM schema_versions WHERE type = $1 AND version = $2 FOR UPDATE', [type, version])).rows[0];
      if (prior) {
        if (prior.sha256 !== schema.sha256) throw this.changedError(type, version);
        return { sha256: prior.sha256, already: true };
      }
      if (newest !== null && version < newest) {
        throw new DossierError('SCHEMA_INVALID', `${type} v${version} is older than the newest published version v${newest}.`, { hint: 'Publish versions in order; make a new version instead.' });
      }
      await c.query(`INSERT INTO schema_versions (type, version, sha256, definition, published_by) VALUES ($1, $2, $3, $4, $5)`, [type, version, schema.sha256, JSON.stringify(toStored(schema)), actor.id]);
      await recordEvent(c, actor, { kind: 'schema_published', field: `${type}:v${version}`, newValue: { type, version, sha256: schema.sha256 } });
      const lock = this.readLock();
      lock[type] = { ...(lock[type] ?? {}), [`v${version}`]: schema.sha256 };
      this.writeLock(lock);
      return { sha256: schema.sha256, already: false };
    });
  }
}

/** Problems between versions are reported on the later file, but concern publishing any of them. */
function crossVersionProblem(p: SchemaProblem): boolean {
  return /never delete a field|cannot come back|type changed from/.test(p.message);
}

import type { Actor } from '../app.js';
import type { Config, RecordTypeConfig } from '../config/schema.js';
import { withTransaction, type Db, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { recordEvent } from './events.js';
import { formatRef, REF_RE } from '../text/refs.js';

export interface RecordRow {
  id: number;
  type: string;
  ref: string;
  title: string | null;
  status: string;
  schema_version: number | null;
  created_at: Date;
  created_by: string;
  updated_at: Date;
}

// The reference format (DL-2026-00042: prefix, year, a number counted per prefix and year, five
// digits at least) is defined once, in text/refs.ts, beside the subject tags that carry it.
export { formatRef } from '../text/refs.js';

export function normaliseRef(input: string): string {
  const ref = input.trim().toUpperCase();
  if (!REF_RE.test(ref)) {
    throw new DossierError('REF_INVALID', `"${input}" is not a record reference.`, { hint: 'A reference looks like DL-2026-00042 or CL-2026-00017.' });
  }
  return ref;
}

export function recordType(config: Config, type: string): RecordTypeConfig {
  const t = config.recordTypes[type];
  if (!t) {
    throw new DossierError('RECORD_TYPE_UNKNOWN', `There is no record type "${type}".`, {
      hint: `Known types: ${Object.keys(config.recordTypes).join(', ')} (recordTypes in the configuration).`,
    });
  }
  return t;
}

export interface CreateRecordInput { type: string; title?: string | undefined; schemaVersion?: number | null; year?: number }

export async function createRecord(db: Db, config: Config, actor: Actor, input: CreateRecordInput): Promise<RecordRow> {
  return withTransaction(db, (c) => insertRecord(c, config, actor, input));
}

/** Creates a record inside the caller's transaction (an import creates many in one). */
export async function insertRecord(c: Queryable, config: Config, actor: Actor, input: CreateRecordInput): Promise<RecordRow> {
  const t = recordType(config, input.type);
  const year = input.year ?? new Date().getFullYear();
  {
    const seq = (
      await c.query<{ last: number }>(
        `INSERT INTO ref_counters (prefix, year, last) VALUES ($1, $2, 1)
         ON CONFLICT (prefix, year) DO UPDATE SET last = ref_counters.last + 1 RETURNING last`,
        [t.prefix, year],
      )
    ).rows[0]!.last;
    const ref = formatRef(t.prefix, year, seq);
    const row = (
      await c.query<RecordRow>(
        `INSERT INTO records (type, ref, year, seq, title, status, schema_version, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [input.type, ref, year, seq, input.title ?? null, t.initialStatus, input.schemaVersion ?? null, actor.id],
      )
    ).rows[0]!;
    await recordEvent(c, actor, { recordId: row.id, kind: 'record_created', newValue: { ref, type: input.type, title: row.title, status: row.status, schemaVersion: row.schema_version } });
    return row;
  }
}

export async function getRecord(q: Queryable, refInput: string, opts: { forUpdate?: boolean } = {}): Promise<RecordRow> {
  const ref = normaliseRef(refInput);
  const r = await q.query<RecordRow>(`SELECT * FROM records WHERE ref = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`, [ref]);
  const row = r.rows[0];
  if (!row) throw new DossierError('RECORD_NOT_FOUND', `There is no record ${ref}.`, { hint: 'See `dossier record list` for the records there are.' });
  return row;
}

export interface ListFilter { type?: string | undefined; status?: string | undefined }

export async function listRecords(q: Queryable, config: Config, filter: ListFilter = {}): Promise<RecordRow[]> {
  if (filter.type) recordType(config, filter.type);
  if (filter.status) {
    const types = filter.type ? [filter.type] : Object.keys(config.recordTypes);
    if (!types.some((t) => filter.status! in config.recordTypes[t]!.statuses)) {
      throw new DossierError('STATUS_UNKNOWN', `No record type${filter.type ? ` "${filter.type}"` : ''} has a status "${filter.status}".`, {
        hint: `Statuses: ${types.map((t) => `${t}: ${Object.keys(config.recordTypes[t]!.statuses).join(', ')}`).join('; ')}.`,
      });
    }
  }
  const r = await q.query<RecordRow>(
    `SELECT * FROM records WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR status = $2) ORDER BY id`,
    [filter.type ?? null, filter.status ?? null],
  );
  return r.rows;
}

export interface StatusChange { ref: string; status: string; reason?: string | undefined }

export async function changeStatus(db: Db, config: Config, actor: Actor, change: StatusChange): Promise<{ record: RecordRow; from: string }> {
  return withTransaction(db, (c) => changeStatusIn(c, config, actor, change));
}

/** The status change inside the caller's transaction (a decision from a message changes it with the values). */
export async function changeStatusIn(c: Queryable, config: Config, actor: Actor, change: StatusChange): Promise<{ record: RecordRow; from: string }> {
  {
    const rec = await getRecord(c, change.ref, { forUpdate: true });
    const t = recordType(config, rec.type);
    if (!(change.status in t.statuses)) {
      throw new DossierError('STATUS_UNKNOWN', `A ${rec.type} has no status "${change.status}".`, {
        hint: `Statuses of a ${rec.type}: ${Object.keys(t.statuses).join(', ')}.`,
      });
    }
    const allowed = t.transitions[rec.status] ?? [];
    if (!allowed.includes(change.status)) {
      throw new DossierError('TRANSITION_FORBIDDEN', `${rec.ref} cannot go from "${rec.status}" to "${change.status}".`, {
        hint: allowed.length ? `From "${rec.status}" it can go to: ${allowed.join(', ')}.` : `"${rec.status}" is final: nothing follows it.`,
      });
    }
    const updated = (await c.query<RecordRow>(`UPDATE records SET status = $2, updated_at = now() WHERE id = $1 RETURNING *`, [rec.id, change.status])).rows[0]!;
    await recordEvent(c, actor, {
      recordId: rec.id,
      kind: 'status_changed',
      field: 'status',
      oldValue: rec.status,
      newValue: change.status,
      details: change.reason ? { reason: change.reason } : null,
    });
    return { record: updated, from: rec.status };
  }
}

/** Whether the record may go from its status to `to` (for callers that prefer to skip, not fail). */
export function transitionAllowed(config: Config, type: string, from: string, to: string): boolean {
  return (config.recordTypes[type]?.transitions[from] ?? []).includes(to);
}

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
  checkListFilter(config, filter);
  const r = await q.query<RecordRow>(
    `SELECT * FROM records WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR status = $2) ORDER BY id`,
    [filter.type ?? null, filter.status ?? null],
  );
  return r.rows;
}

/** Refuses an unknown --type or a --status no (such) type has. */
function checkListFilter(config: Config, filter: ListFilter): void {
  if (filter.type) recordType(config, filter.type);
  if (filter.status) {
    const types = filter.type ? [filter.type] : Object.keys(config.recordTypes);
    if (!types.some((t) => filter.status! in config.recordTypes[t]!.statuses)) {
      throw new DossierError('STATUS_UNKNOWN', `No record type${filter.type ? ` "${filter.type}"` : ''} has a status "${filter.status}".`, {
        hint: `Statuses: ${types.map((t) => `${t}: ${Object.keys(config.recordTypes[t]!.statuses).join(', ')}`).join('; ')}.`,
      });
    }
  }
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

/** --limit/--offset as typed (text) or as numbers; --before a reference or an id. */
export interface Page { limit?: number | string | undefined; offset?: number | string | undefined; before?: string | undefined }
export interface FoundRecord extends RecordRow { matched: string[] }

/** Checks --limit/--offset/--before once for every paged list; `before` is a reference or an id. */
export function checkPage(p: Page): { limit: number; offset: number } {
  const limit = p.limit === undefined ? 50 : Number(p.limit);
  const offset = p.offset === undefined ? 0 : Number(p.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new DossierError('USAGE', `--limit must be a whole number from 1 to 10000, not "${p.limit}".`);
  if (!Number.isInteger(offset) || offset < 0) throw new DossierError('USAGE', `--offset must be a whole number, 0 or more, not "${p.offset}".`);
  if (p.before !== undefined && p.offset) throw new DossierError('USAGE', 'Give either --offset or --before, not both.', { hint: '--before continues after the last row of the previous page; --offset skips rows.' });
  return { limit, offset };
}

/** "21.11.2026" → "2026-11-21", so a date typed as staff write it finds values stored as ISO. */
function isoOf(text: string): string | null {
  const m = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(text.trim());
  return m ? `${m[3]}-${m[2]!.padStart(2, '0')}-${m[1]!.padStart(2, '0')}` : null;
}

/**
 * Records newest first, optionally only those where `text` appears: the reference, title or status
 * (its key or label), a linked party (key, name, address, phone: the client, the banks, any
 * counterparty), any field value (INN, passport, phone: digits match whatever the spacing), or the
 * day it was created. Each result says where the text was found.
 */
export async function findRecords(q: Queryable, config: Config, filter: ListFilter & Page & { text?: string | undefined }): Promise<FoundRecord[]> {
  checkListFilter(config, filter);
  const { limit, offset } = checkPage(filter);
  let beforeId: number | null = null;
  if (filter.before !== undefined) beforeId = /^\d+$/.test(filter.before) ? Number(filter.before) : (await getRecord(q, filter.before)).id;
  const text = filter.text?.trim() ?? '';
  if (filter.text !== undefined && !text) throw new DossierError('USAGE', 'Say what to look for: dossier record find <text>.', { hint: 'A reference, a name, a phone, an INN or passport number, a value, a status or a date (21.11.2026).' });
  const like = `%${text.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
  const digits = text.replace(/\D/g, '');
  // Digits are compared without spaces and dashes only when the text is mostly a number.
  const numeric = digits.length >= 4 && digits.length >= text.replace(/[\s()+-]/g, '').length - 1;
  // A Russian phone is written +7 916 … or 8 916 …: its last ten digits are the number.
  const byDigits = numeric ? `%${digits.length === 11 && /^[78]/.test(digits) ? digits.slice(1) : digits}%` : null;
  const iso = isoOf(text) ?? (/^\d{4}-\d{2}-\d{2}$/.test(text) ? text : null);
  const statusKeys = text
    ? Object.values(config.recordTypes).flatMap((t) => Object.entries(t.statuses).filter(([k, l]) => [k, l.ru, l.en].some((s) => s.toLowerCase().includes(text.toLowerCase()))).map(([k]) => k))
    : [];
  const rows = (
    await q.query<FoundRecord>(
      `WITH hits AS (
         SELECT r.id, 'reference' AS what FROM records r WHERE $1::text IS NOT NULL AND r.ref ILIKE $1
         UNION ALL SELECT r.id, 'title' FROM records r WHERE $1::text IS NOT NULL AND r.title ILIKE $1
         UNION ALL SELECT r.id, 'status ' || r.status FROM records r WHERE r.status = ANY($2::text[])
         UNION ALL SELECT r.id, 'created ' || to_char(r.created_at, 'YYYY-MM-DD') FROM records r WHERE $4::text IS NOT NULL AND r.created_at::date = $4::date
         UNION ALL SELECT rp.record_id, 'party ' || p.key || ' (' || rp.role || ')' FROM record_parties rp JOIN parties p ON p.id = rp.party_id
           WHERE $1::text IS NOT NULL AND (p.key ILIKE $1 OR p.name ILIKE $1 OR array_to_string(p.emails, ' ') ILIKE $1
                  OR ($3::text IS NOT NULL AND regexp_replace(coalesce(p.phone, ''), '\\D', '', 'g') LIKE $3))
         UNION ALL SELECT fv.record_id, 'field ' || fv.field_id FROM field_values fv
           WHERE $1::text IS NOT NULL AND (fv.value::text ILIKE $1
                  OR ($3::text IS NOT NULL AND regexp_replace(fv.value::text, '\\D', '', 'g') LIKE $3)
                  OR ($4::text IS NOT NULL AND fv.value #>> '{}' = $4))
       )
       SELECT r.*, coalesce((SELECT array_agg(DISTINCT h.what ORDER BY h.what) FROM hits h WHERE h.id = r.id), '{}') AS matched
       FROM records r
       WHERE ($5::boolean OR r.id IN (SELECT id FROM hits))
         AND ($6::text IS NULL OR r.type = $6) AND ($7::text IS NULL OR r.status = $7) AND ($8::bigint IS NULL OR r.id < $8)
       ORDER BY r.id DESC LIMIT $9 OFFSET $10`,
      [text ? like : null, statusKeys, byDigits, iso, !text, filter.type ?? null, filter.status ?? null, beforeId, limit, offset],
    )
  ).rows;
  return rows;
}

import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Actor } from '../app.js';
import type { Config } from '../config/schema.js';
import { withTransaction, type Db, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import type { BlobStore } from '../storage/blobs.js';
import { sniffFile } from '../storage/sniff.js';
import { flagReusedEvidence } from '../evidence/reuse.js';
import { recordEvent } from './events.js';
import { getRecord } from './records.js';

export interface AttachmentRow {
  id: number;
  record_id: number;
  category: string;
  file_name: string;
  content_type: string;
  size: number;
  sha256: string;
  source: string;
  created_by: string;
  created_at: Date;
  detached_at: Date | null;
  detached_by: string | null;
  /** Kept with --force although it is larger than a package email can carry: packages leave it out. */
  oversize_forced: boolean;
}

export interface AttachResult { attached: AttachmentRow[]; alreadyThere: AttachmentRow[] }

export function checkCategory(config: Config, category: string): void {
  if (!(category in config.attachments.categories)) {
    throw new DossierError('CATEGORY_UNKNOWN', `"${category}" is not an attachment category.`, {
      hint: `Categories: ${Object.keys(config.attachments.categories).join(', ')} (attachments.categories in the configuration).`,
    });
  }
}

// Exact bytes below 1 MiB, so that a file one byte over a small limit reads as over it.
const size = (n: number) => (n < 1048576 ? `${n.toLocaleString('en-US')} bytes` : `${(n / 1048576).toFixed(1)} MiB`);

/**
 * Attaches files from disk. Every file is checked (exists, not empty, within the size limit) before
 * any is stored, so a bad file in the list attaches nothing. A file already attached to the record in
 * the same category (same bytes) is reported, not attached twice.
 */
export async function attachFiles(db: Db, blobs: BlobStore, config: Config, actor: Actor, ref: string, files: string[], category: string, opts: { oversizeForced?: (file: string) => boolean } = {}): Promise<AttachResult> {
  checkCategory(config, category);
  const rec = await getRecord(db, ref);
  const limit = config.attachments.maxBytes;
  const checked: { file: string; size: number }[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const st = await stat(file).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error) problems.push(`${file}: ${st.code === 'ENOENT' ? 'no such file' : st.message}`);
    else if (!st.isFile()) problems.push(`${file}: not a regular file`);
    else if (st.size === 0) problems.push(`${file}: the file is empty`);
    else if (st.size > limit) problems.push(`${file}: ${size(st.size)} is over the limit of ${size(limit)}`);
    else checked.push({ file, size: st.size });
  }
  if (problems.length) {
    const code = problems.every((p) => p.includes('no such file')) ? 'FILE_NOT_FOUND' : problems.some((p) => p.includes('over the limit')) ? 'ATTACHMENT_TOO_LARGE' : problems.some((p) => p.includes('empty')) ? 'ATTACHMENT_EMPTY' : 'FILE_UNREADABLE';
    throw new DossierError(code, `Nothing was attached to ${rec.ref}:\n  - ${problems.join('\n  - ')}`, {
      hint: code === 'ATTACHMENT_TOO_LARGE' ? 'Split or compress the file, or raise attachments.maxBytes in the configuration.' : 'Check the file names and run the command again.',
      details: { problems },
    });
  }

  // Bytes first (outside the transaction: streaming a big scan must not hold locks), rows second.
  // A blob stored for a transaction that then fails is harmless: content-addressed, reused next time.
  const stored: { file: string; contentType: string; sha256: string; size: number }[] = [];
  for (const { file } of checked) {
    const contentType = await sniffFile(file);
    const blob = await blobs.put(file);
    stored.push({ file, contentType, ...blob });
  }
  const done = await withTransaction(db, async (c) => {
    const result: AttachResult = { attached: [], alreadyThere: [] };
    for (const s of stored) {
      await c.query('INSERT INTO blobs (sha256, size, content_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [s.sha256, s.size, s.contentType]);
      const dup = await c.query<AttachmentRow>('SELECT * FROM attachments WHERE record_id = $1 AND category = $2 AND sha256 = $3 AND detached_at IS NULL', [rec.id, category, s.sha256]);
      if (dup.rows[0]) {
        result.alreadyThere.push(dup.rows[0]);
        continue;
      }
      const row = (
        await c.query<AttachmentRow>(
          `INSERT INTO attachments (record_id, category, file_name, content_type, size, sha256, source, created_by, oversize_forced)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
          [rec.id, category, path.basename(s.file), s.contentType, s.size, s.sha256, actor.source, actor.id, opts.oversizeForced?.(s.file) ?? false],
        )
      ).rows[0]!;
      await recordEvent(c, actor, {
        recordId: rec.id,
        kind: 'attachment_added',
        field: `attachment:${category}`,
        newValue: { id: row.id, file: row.file_name, category, size: row.size, sha256: row.sha256, contentType: row.content_type, ...(row.oversize_forced ? { oversizeForced: true } : {}) },
      });
      result.attached.push(row);
    }
    await c.query('UPDATE records SET updated_at = now() WHERE id = $1', [rec.id]);
    return result;
  });
  // Issue 17: the same file or photo on another record is flagged on both (after the commit: a
  // photo that cannot be decoded or hashed must not undo the attach).
  await flagReusedEvidence(db, blobs, actor, done.attached);
  return done;
}

/** The record's attachments (detached ones only with `detached: true`: they left the record). */
export async function listAttachments(q: Queryable, recordId: number, opts: { detached?: boolean } = {}): Promise<AttachmentRow[]> {
  return (await q.query<AttachmentRow>(`SELECT * FROM attachments WHERE record_id = $1${opts.detached ? '' : ' AND detached_at IS NULL'} ORDER BY id`, [recordId])).rows;
}

/**
 * Takes an attachment off its record (a file attached by mistake). The row stays, marked detached,
 * and so do its blob (other records or mail may share the bytes) and its history; packages built
 * from now on leave it out.
 */
export async function detachAttachment(db: Db, actor: Actor, ref: string, id: number, reason?: string): Promise<AttachmentRow> {
  return withTransaction(db, async (c) => {
    const rec = await getRecord(c, ref, { forUpdate: true });
    const row = (await c.query<AttachmentRow>('SELECT * FROM attachments WHERE id = $1 AND record_id = $2', [id, rec.id])).rows[0];
    if (!row) {
      throw new DossierError('ATTACHMENT_NOT_FOUND', `${rec.ref} has no attachment #${id}.`, { hint: `\`dossier record show ${rec.ref}\` lists its attachments with their numbers.` });
    }
    if (row.detached_at) {
      throw new DossierError('ATTACHMENT_NOT_FOUND', `Attachment #${id} (${row.file_name}) was already detached from ${rec.ref} by ${row.detached_by}.`, { hint: `\`dossier record history ${rec.ref}\` shows when.` });
    }
    const updated = (await c.query<AttachmentRow>('UPDATE attachments SET detached_at = now(), detached_by = $2 WHERE id = $1 RETURNING *', [id, actor.id])).rows[0]!;
    await recordEvent(c, actor, {
      recordId: rec.id,
      kind: 'attachment_detached',
      field: `attachment:${row.category}`,
      oldValue: { id: row.id, file: row.file_name, category: row.category, size: row.size, sha256: row.sha256 },
      details: reason ? { reason } : null,
    });
    await c.query('UPDATE records SET updated_at = now() WHERE id = $1', [rec.id]);
    return updated;
  });
}

/** A file whose bytes are already in the blob store (a document that came by mail). */
export interface StoredFile { fileName: string; contentType: string; size: number; sha256: string; details?: Record<string, unknown> }

/**
 * Attaches stored files inside the caller's transaction (intake's), with the same rule as the CLI:
 * a file already attached to the record in the category (same bytes) is reported, not attached
 * twice; the record's updated_at moves when something was attached.
 */
export async function attachStoredIn(c: Queryable, actor: Actor, recordId: number, files: StoredFile[], category: string): Promise<AttachResult> {
  const result: AttachResult = { attached: [], alreadyThere: [] };
  if (!files.length) return result;
  // The same bytes twice in one message are one file: attached once, then "already there".
  const first = new Map<string, StoredFile>();
  for (const f of files) if (!first.has(f.sha256)) first.set(f.sha256, f);
  const unique = [...first.values()];
  // Blob rows, the duplicate check, the new rows, their events and updated_at: one statement.
  const rows = (
    await c.query<AttachmentRow & { state: 'added' | 'there' }>(
      `WITH f AS (
         SELECT * FROM ROWS FROM (json_to_recordset($3::json) AS (file_name text, content_type text, size bigint, sha256 text, details jsonb))
         WITH ORDINALITY AS x(file_name, content_type, size, sha256, details, n)),
       stored AS (INSERT INTO blobs (sha256, size, content_type) SELECT sha256, size, content_type FROM f ON CONFLICT DO NOTHING),
       there AS (SELECT DISTINCT ON (a.sha256) a.* FROM attachments a WHERE a.record_id = $1 AND a.category = $2 AND a.sha256 IN (SELECT sha256 FROM f) ORDER BY a.sha256, a.id),
       added AS (
         INSERT INTO attachments (record_id, category, file_name, content_type, size, sha256, source, created_by)
         SELECT $1, $2, f.file_name, f.content_type, f.size, f.sha256, $4, $5 FROM f WHERE f.sha256 NOT IN (SELECT sha256 FROM there) ORDER BY f.n
         RETURNING *),
       event AS (
         INSERT INTO events (record_id, actor, source, kind, field, new_value, details)
         SELECT $1, $5, $4, 'attachment_added', 'attachment:' || $2::text,
           jsonb_build_object('id', a.id, 'file', a.file_name, 'category', a.category, 'size', a.size, 'sha256', a.sha256, 'contentType', a.content_type) || COALESCE(f.details, '{}'), 'null'
         FROM added a JOIN f ON f.sha256 = a.sha256 ORDER BY a.id),
       touched AS (UPDATE records SET updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM added))
       SELECT 'added' AS state, * FROM added UNION ALL SELECT 'there', * FROM there`,
      [recordId, category, JSON.stringify(unique.map((f) => ({ file_name: f.fileName, content_type: f.contentType, size: f.size, sha256: f.sha256, details: f.details ?? null }))), actor.source, actor.id],
    )
  ).rows;
  const bySha = new Map(rows.map(({ state, ...row }) => [row.sha256, { state, row: row as AttachmentRow }]));
  const told = new Set<string>();
  for (const f of files) {
    const hit = bySha.get(f.sha256)!;
    if (hit.state === 'added' && !told.has(f.sha256)) result.attached.push(hit.row);
    else result.alreadyThere.push(hit.row);
    told.add(f.sha256);
  }
  return result;
}

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';

// The intake journal: a message's bytes go to the blob store and a row is written before anything
// else happens to it. Identical bytes are journaled once (from any mailbox); processing records the
// outcome in the same transaction as its effects, so a crash at any point loses nothing and applies
// nothing twice.

export type Outcome = 'applied' | 'quarantined' | 'ignored' | 'refused' | 'failed';

export interface JournalRow {
  id: number;
  mailbox: string;
  uidvalidity: number | null;
  uid: number | null;
  source_ref: string | null;
  message_id: string | null;
  sha256: string;
  size: number;
  from_address: string | null;
  subject: string | null;
  received_at: Date;
  outcome: Outcome | null;
  reason: string | null;
  record_id: number | null;
  party_id: number | null;
  details: Record<string, unknown> | null;
  attempts: number;
  processed_at: Date | null;
}

export interface Origin { mailbox: string; uidvalidity?: number | null; uid?: number | null; sourceRef?: string | null }

/** A few headers read straight from the raw bytes, so that the journal says what arrived even if parsing fails later. */
function peekHeaders(raw: Buffer): { messageId: string | null; from: string | null; subject: string | null } {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw.subarray(0, Math.min(end >= 0 ? end : raw.length, 256 * 1024)).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  // NUL bytes are dropped: PostgreSQL text cannot hold them, and the INSERT failing would leave the
  // message unjournaled (found by the hostile-mail corpus: a NUL in Subject lost the message).
  const get = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.replace(/\0/g, '').trim().slice(0, 998) ?? null;
  const from = get('From');
  return { messageId: get('Message-ID')?.match(/<[^>]+>/)?.[0] ?? null, from: from ? (/<([^>]+)>/.exec(from)?.[1] ?? from).toLowerCase() : null, subject: get('Subject') };
}

/** Journals a message; returns the row and whether it was already there. */
export async function journal(app: App, raw: Buffer, origin: Origin): Promise<{ row: JournalRow; duplicate: boolean }> {
  if (raw.length === 0) throw new DossierError('USAGE', 'The message is empty.', { hint: 'Give a file with a whole message (.eml).' });
  const sha256 = createHash('sha256').update(raw).digest('hex');
  const prior = (await app.db.query<JournalRow>('SELECT * FROM inbound_messages WHERE sha256 = $1', [sha256])).rows[0];
  if (prior) return { row: prior, duplicate: true };
  await app.blobs.put(Readable.from([raw]));
  const h = peekHeaders(raw);
  await app.db.query("INSERT INTO blobs (sha256, size, content_type) VALUES ($1, $2, 'message/rfc822') ON CONFLICT DO NOTHING", [sha256, raw.length]);
  const inserted = await app.db.query<JournalRow>(
    `INSERT INTO inbound_messages (mailbox, uidvalidity, uid, source_ref, message_id, sha256, size, from_address, subject)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING *`,
    [origin.mailbox, origin.uidvalidity ?? null, origin.uid ?? null, origin.sourceRef ?? null, h.messageId, sha256, raw.length, h.from, h.subject],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], duplicate: false };
  // Another process journaled it at the same moment.
  const row = (await app.db.query<JournalRow>('SELECT * FROM inbound_messages WHERE sha256 = $1 OR (mailbox = $2 AND uidvalidity = $3 AND uid = $4)', [sha256, origin.mailbox, origin.uidvalidity ?? null, origin.uid ?? null])).rows[0]!;
  return { row, duplicate: true };
}

export async function findByImap(q: Queryable, mailbox: string, uidvalidity: number, uid: number): Promise<JournalRow | null> {
  return (await q.query<JournalRow>('SELECT * FROM inbound_messages WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3', [mailbox, uidvalidity, uid])).rows[0] ?? null;
}

export async function getJournal(q: Queryable, id: number): Promise<JournalRow> {
  const row = (await q.query<JournalRow>('SELECT * FROM inbound_messages WHERE id = $1', [id])).rows[0];
  if (!row) throw new DossierError('USAGE', `There is no journaled message #${id}.`, { hint: 'See `dossier mail list`.' });
  return row;
}

export async function listJournal(q: Queryable, filter: { outcome?: string | undefined; limit?: number } = {}): Promise<(JournalRow & { ref: string | null })[]> {
  if (filter.outcome && !['applied', 'quarantined', 'ignored', 'refused', 'failed', 'pending'].includes(filter.outcome)) {
    throw new DossierError('USAGE', `"${filter.outcome}" is not an outcome.`, { hint: 'Outcomes: applied, quarantined, ignored, refused, failed, pending.' });
  }
  return (
    await q.query<JournalRow & { ref: string | null }>(
      `SELECT m.*, r.ref FROM inbound_messages m LEFT JOIN records r ON r.id = m.record_id
       WHERE ($1::text IS NULL OR ($1 = 'pending' AND m.outcome IS NULL) OR m.outcome = $1) ORDER BY m.id DESC LIMIT $2`,
      [filter.outcome ?? null, filter.limit ?? 200],
    )
  ).rows;
}

import { createHash } from 'node:crypto';
import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { passingFailure } from '../storage/transient.js';

// The intake journal: a message's bytes go to the blob store and a row is written before anything
// else happens to it. Identical bytes are journaled once (from any mailbox); processing records the
// outcome in the same transaction as its effects, so a crash at any point loses nothing and applies
// nothing twice.

export type Outcome = 'applied' | 'partial' | 'quarantined' | 'ignored' | 'refused' | 'failed';

export interface JournalRow {
  id: number;
  mailbox: string;
  uidvalidity: number | null;
  uid: number | null;
  source_ref: string | null;
  message_id: string | null;
  /** null only for a Maildir file that could not be read (`unreadable` says why). */
  sha256: string | null;
  size: number;
  from_address: string | null;
  subject: string | null;
  received_at: Date;
  outcome: Outcome | null;
  reason: string | null;
  record_id: number | null;
  party_id: number | null;
  details: Record<string, unknown> | null;
  /** Files (parts) not taken, each with why: the outcome is then "partial" (or the message was refused). */
  dropped: { file: string; reason: string }[] | null;
  unreadable: string | null;
  attempts: number;
  processed_at: Date | null;
}

export interface Origin { mailbox: string; uidvalidity?: number | null; uid?: number | null; sourceRef?: string | null }

/** A few headers read straight from the raw bytes, so that the journal says what arrived even if parsing fails later. */
export function peekHeaders(raw: Buffer): { messageId: string | null; from: string | null; subject: string | null } {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw.subarray(0, Math.min(end >= 0 ? end : raw.length, 256 * 1024)).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  // NUL bytes are dropped: PostgreSQL text cannot hold them, and the INSERT failing would leave the
  // message unjournaled (found by the hostile-mail corpus: a NUL in Subject lost the message).
  const get = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.replace(/\0/g, '').trim().slice(0, 998) ?? null;
  const from = get('From');
  return { messageId: get('Message-ID')?.match(/<[^>]+>/)?.[0] ?? null, from: from ? (/<([^>]+)>/.exec(from)?.[1] ?? from).toLowerCase() : null, subject: get('Subject') };
}

const LATER = 'The message was not taken in and stays where it is; the next pass takes it.';

/** Journals a message; returns the row and whether it was already there. */
export async function journal(app: App, raw: Buffer, origin: Origin): Promise<{ row: JournalRow; duplicate: boolean }> {
  try {
    return await journalOne(app, raw, origin);
  } catch (err) {
    throw passingFailure(err, 'journaling a message', LATER) ?? err;
  }
}

async function journalOne(app: App, raw: Buffer, origin: Origin): Promise<{ row: JournalRow; duplicate: boolean }> {
  if (raw.length === 0) throw new DossierError('USAGE', 'The message is empty.', { hint: 'Give a file with a whole message (.eml).' });
  const sha256 = createHash('sha256').update(raw).digest('hex');
  const prior = (await app.db.query<JournalRow>('SELECT * FROM inbound_messages WHERE sha256 = $1', [sha256])).rows[0];
  if (prior) return { row: prior, duplicate: true };
  await app.blobs.put(raw);
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

/**
 * A file that could not be read at all (not a regular file, too large to read, no permission):
 * journaled without bytes, quarantined with why, once per file name — so it is in `mail list`,
 * `status` and the log instead of lying in new/ for ever. `head`: its first bytes when they could
 * be read, for the sender and subject.
 */
export async function journalUnreadable(app: App, origin: Origin, why: string, size: number, head: Buffer | null): Promise<{ row: JournalRow; duplicate: boolean }> {
  const h = head?.length ? peekHeaders(head) : { messageId: null, from: null, subject: null };
  const reason = `unreadable ${origin.mailbox} file ${origin.sourceRef ?? ''}: ${why}`.slice(0, 2000);
  const inserted = await app.db.query<JournalRow>(
    `INSERT INTO inbound_messages (mailbox, source_ref, message_id, sha256, size, from_address, subject, unreadable, outcome, reason, processed_at, attempts)
     VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, 'quarantined', $8, now(), 1)
     ON CONFLICT (mailbox, source_ref) WHERE sha256 IS NULL DO NOTHING RETURNING *`,
    [origin.mailbox, origin.sourceRef ?? null, h.messageId, size, h.from, h.subject, why, reason],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], duplicate: false };
  const row = (await app.db.query<JournalRow>('SELECT * FROM inbound_messages WHERE mailbox = $1 AND source_ref = $2 AND sha256 IS NULL', [origin.mailbox, origin.sourceRef ?? null])).rows[0]!;
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
  if (filter.outcome && !['applied', 'partial', 'quarantined', 'ignored', 'refused', 'failed', 'pending'].includes(filter.outcome)) {
    throw new DossierError('USAGE', `"${filter.outcome}" is not an outcome.`, { hint: 'Outcomes: applied, partial, quarantined, ignored, refused, failed, pending.' });
  }
  return (
    await q.query<JournalRow & { ref: string | null }>(
      `SELECT m.*, r.ref FROM inbound_messages m LEFT JOIN records r ON r.id = m.record_id
       WHERE ($1::text IS NULL OR ($1 = 'pending' AND m.outcome IS NULL) OR m.outcome = $1) ORDER BY m.id DESC LIMIT $2`,
      [filter.outcome ?? null, filter.limit ?? 200],
    )
  ).rows;
}

export interface Arrival { raw: Buffer; origin: Origin }

/**
 * Journals a fetched batch (a Maildir chunk, an IMAP fetch): the messages already known (by their
 * bytes, or by their IMAP UID) are found with one query, the new ones' bytes stored (not again when
 * the blob store has them) and their rows written with one statement. Rows come back in the input's
 * order, each with whether it was already there.
 */
export async function journalBatch(app: App, items: Arrival[]): Promise<{ row: JournalRow; duplicate: boolean }[]> {
  try {
    return await journalMany(app, items);
  } catch (err) {
    throw passingFailure(err, `journaling ${items.length} message(s)`, LATER) ?? err;
  }
}

async function journalMany(app: App, items: Arrival[]): Promise<{ row: JournalRow; duplicate: boolean }[]> {
  if (!items.length) return [];
  const shas = items.map((i) => {
    if (i.raw.length === 0) throw new DossierError('USAGE', 'The message is empty.', { hint: 'Give a file with a whole message (.eml).' });
    return createHash('sha256').update(i.raw).digest('hex');
  });
  const known = async () =>
    (
      await app.db.query<JournalRow>(
        `SELECT m.* FROM inbound_messages m WHERE m.sha256 = ANY($1::text[])
         OR (m.uid IS NOT NULL AND (m.mailbox, m.uidvalidity, m.uid) IN (SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[])))`,
        [shas, items.map((i) => i.origin.mailbox), items.map((i) => i.origin.uidvalidity ?? null), items.map((i) => i.origin.uid ?? null)],
      )
    ).rows;
  const find = (rows: JournalRow[], i: number) => {
    const o = items[i]!.origin;
    return rows.find((r) => r.sha256 === shas[i]) ?? (o.uid != null ? rows.find((r) => r.mailbox === o.mailbox && Number(r.uidvalidity) === o.uidvalidity && Number(r.uid) === o.uid) : undefined);
  };
  const before = await known();
  const fresh = items.map((_, i) => i).filter((i) => !find(before, i));
  const rows: JournalRow[] = [...before];
  const insertedIds = new Set<number>();
  if (fresh.length) {
    // Stored at once, each distinct message once. No look first whether the store has it: a message
    // new to the journal rarely is there, and writing the same bytes again lands on the same name.
    const unique = new Map(fresh.map((i) => [shas[i]!, items[i]!.raw]));
    await Promise.all([...unique.values()].map((raw) => app.blobs.put(raw)));
    await app.db.query(`INSERT INTO blobs (sha256, size, content_type) SELECT s, n, 'message/rfc822' FROM unnest($1::text[], $2::bigint[]) AS x (s, n) ON CONFLICT DO NOTHING`, [fresh.map((i) => shas[i]), fresh.map((i) => items[i]!.raw.length)]);
    const input = fresh.map((i, ord) => {
      const h = peekHeaders(items[i]!.raw);
      const o = items[i]!.origin;
      return { ord, mailbox: o.mailbox, uidvalidity: o.uidvalidity ?? null, uid: o.uid ?? null, source_ref: o.sourceRef ?? null, message_id: h.messageId, sha256: shas[i], size: items[i]!.raw.length, from_address: h.from, subject: h.subject };
    });
    const inserted = await app.db.query<JournalRow>(
      `INSERT INTO inbound_messages (mailbox, uidvalidity, uid, source_ref, message_id, sha256, size, from_address, subject)
       SELECT mailbox, uidvalidity, uid, source_ref, message_id, sha256, size, from_address, subject
       FROM json_to_recordset($1::json) AS x (ord int, mailbox text, uidvalidity bigint, uid bigint, source_ref text, message_id text, sha256 text, size bigint, from_address text, subject text)
       ORDER BY ord ON CONFLICT DO NOTHING RETURNING *`,
      [JSON.stringify(input)],
    );
    rows.push(...inserted.rows);
    for (const r of inserted.rows) insertedIds.add(r.id);
    // Journaled by another process at the same moment: read back.
    if (inserted.rows.length < new Set(fresh.map((i) => shas[i])).size) rows.push(...(await known()));
  }
  const mine = new Set<number>();
  return items.map((_, i) => {
    const row = find(rows, i)!;
    const duplicate = !insertedIds.has(row.id) || mine.has(row.id);
    mine.add(row.id);
    return { row, duplicate };
  });
}

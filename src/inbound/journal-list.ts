import type { Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import type { JournalRow } from './journal.js';

// `dossier mail list`: the intake journal newest first, filtered and paged. Paging is by journal
// number (keyset: "--before N" shows what came before #N), so a page stays right while mail arrives.

export const OUTCOMES = ['applied', 'partial', 'quarantined', 'ignored', 'refused', 'failed', 'pending'] as const;

export interface MailListFilter {
  outcome?: string | undefined;
  since?: Date | undefined;
  mailbox?: string | undefined;
  /** A record reference (DL-2026-00042): the messages routed to it. */
  record?: string | undefined;
  /** Journal numbers below this one only (the next page). */
  before?: number | undefined;
  limit?: number | undefined;
}

export interface MailListPage {
  rows: (JournalRow & { ref: string | null })[];
  /** More rows match than were shown: the next page starts below this journal number. */
  nextBefore: number | null;
  /** All rows matching the filter (not only this page). */
  total: number;
}

export async function listMail(q: Queryable, f: MailListFilter = {}): Promise<MailListPage> {
  if (f.outcome && !(OUTCOMES as readonly string[]).includes(f.outcome)) {
    throw new DossierError('USAGE', `"${f.outcome}" is not an outcome.`, { hint: `Outcomes: ${OUTCOMES.join(', ')}.` });
  }
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new DossierError('USAGE', `--limit must be a whole number from 1 to 10000, not "${String(f.limit)}".`);
  if (f.before !== undefined && (!Number.isInteger(f.before) || f.before < 1)) throw new DossierError('USAGE', `--before must be a journal number, not "${String(f.before)}".`, { hint: 'The number a previous page ended with (`dossier mail list` prints it).' });
  const where = `($1::text IS NULL OR ($1 = 'pending' AND m.outcome IS NULL) OR m.outcome = $1)
     AND ($2::timestamptz IS NULL OR m.received_at >= $2)
     AND ($3::text IS NULL OR m.mailbox = $3)
     AND ($4::text IS NULL OR r.ref = upper($4))`;
  const params = [f.outcome ?? null, f.since ?? null, f.mailbox ?? null, f.record ?? null];
  const rows = (
    await q.query<JournalRow & { ref: string | null }>(
      `SELECT m.*, r.ref FROM inbound_messages m LEFT JOIN records r ON r.id = m.record_id
       WHERE ${where} AND ($5::bigint IS NULL OR m.id < $5) ORDER BY m.id DESC LIMIT $6`,
      [...params, f.before ?? null, limit + 1],
    )
  ).rows;
  const total = (await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM inbound_messages m LEFT JOIN records r ON r.id = m.record_id WHERE ${where}`, params)).rows[0]!.n;
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { rows: page, nextBefore: more ? page[page.length - 1]!.id : null, total };
}

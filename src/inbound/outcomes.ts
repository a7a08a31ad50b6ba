import type { Queryable } from '../db/pool.js';
import type { Decision } from './act/index.js';
import type { ParsedMessage } from './types.js';

// A message's outcome in the journal: written once (`outcome IS NULL`: a message another worker
// decided meanwhile keeps that worker's outcome), with what the message said about itself.

const COLUMNS = `outcome = x.outcome, reason = x.reason, record_id = x.record_id, party_id = x.party_id, details = x.details, processed_at = now(), attempts = m.attempts + 1,
  message_id = COALESCE(m.message_id, x.message_id), from_address = COALESCE(x.from_address, m.from_address), subject = COALESCE(x.subject, m.subject), dropped = x.dropped, authenticated = x.authenticated`;

const ROWS = `json_to_recordset($1::json) AS x (id bigint, outcome text, reason text, record_id bigint, party_id bigint, details jsonb, message_id text, from_address text, subject text, dropped jsonb, authenticated boolean)`;

const row = (id: number, out: Decision, m: ParsedMessage, authenticated: boolean) => ({
  id, outcome: out.outcome, reason: out.reason, record_id: out.recordId ?? null, party_id: out.partyId ?? null,
  details: { ...out.details, warnings: m.warnings }, message_id: m.messageId, from_address: m.from?.address ?? null,
  subject: m.subject || null, dropped: m.dropped.length ? m.dropped : null, authenticated,
});

/** Writes the outcomes of messages not decided yet; returns the ids written (the others had one meanwhile). */
async function write(q: Queryable, rows: ReturnType<typeof row>[]): Promise<Set<number>> {
  const r = await q.query<{ id: number }>(
    { name: 'intake-outcomes', text: `UPDATE inbound_messages m SET ${COLUMNS} FROM ${ROWS} WHERE m.id = x.id AND m.outcome IS NULL RETURNING m.id`, values: [JSON.stringify(rows)] },
  );
  return new Set(r.rows.map((x) => Number(x.id)));
}

/** Writes one message's outcome (in its transaction); false if it had one meanwhile. */
export async function recordOutcome(q: Queryable, id: number, out: Decision, m: ParsedMessage, authenticated: boolean): Promise<boolean> {
  return (await write(q, [row(id, out, m, authenticated)])).has(id);
}

/**
 * The outcomes of a fetched batch's messages that change nothing else (noise, quarantine), held and
 * written with one statement — one round trip and one commit for them all instead of one each.
 * A message that acts waits for every outcome decided before it to be written (`flush`), so what it
 * reads (a sender's count this hour, a repeat) is what it would have read one by one. Until its
 * outcome is written a message is only journaled: it stays in its mailbox, and a crash leaves it
 * for the next pass.
 */
export class OutcomeBuffer {
  private pending: ReturnType<typeof row>[] = [];
  private writes: Promise<Set<number>>[] = [];
  /** Every id ever held, written or not: another lane's flush may write one before its own lane asks. */
  private held = new Set<number>();

  constructor(private readonly q: Queryable) {}

  hold(id: number, out: Decision, m: ParsedMessage, authenticated: boolean): void {
    this.pending.push(row(id, out, m, authenticated));
    this.held.add(id);
  }

  /** Whether the message's outcome went through this buffer: its message is moved only after the last flush. */
  holds(id: number): boolean {
    return this.held.has(id);
  }

  /** Writes what is held; resolves to every id this buffer has written so far. */
  async flush(): Promise<Set<number>> {
    const rows = this.pending.splice(0);
    if (rows.length) this.writes.push(write(this.q, rows));
    const written = new Set<number>();
    for (const w of await Promise.all(this.writes)) for (const id of w) written.add(id);
    return written;
  }
}

import type { Actor } from '../app.js';
import type { Queryable } from '../db/pool.js';

export interface EventInput {
  recordId?: number | null;
  partyId?: number | null;
  kind: string;
  field?: string | null;
  oldValue?: unknown;
  newValue?: unknown;
  details?: Record<string, unknown> | null;
}

export interface EventRow {
  id: number;
  at: Date;
  actor: string;
  source: string;
  kind: string;
  field: string | null;
  old_value: unknown;
  new_value: unknown;
  details: Record<string, unknown> | null;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/** Appends one audit event. Call it inside the transaction that makes the change. */
export async function recordEvent(q: Queryable, actor: Actor, e: EventInput): Promise<void> {
  await q.query(
    `INSERT INTO events (record_id, party_id, actor, source, kind, field, old_value, new_value, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [e.recordId ?? null, e.partyId ?? null, actor.id, actor.source, e.kind, e.field ?? null, json(e.oldValue), json(e.newValue), json(e.details ?? null)],
  );
}

/**
 * Appends several audit events with one statement, in the order given (their ids follow it): a
 * change of many values is one round trip, not one per value.
 */
export async function recordEvents(q: Queryable, actor: Actor, events: EventInput[]): Promise<void> {
  if (events.length <= 1) return events[0] ? recordEvent(q, actor, events[0]) : undefined;
  const rows = events.map((e) => ({ record_id: e.recordId ?? null, party_id: e.partyId ?? null, kind: e.kind, field: e.field ?? null, old_value: json(e.oldValue), new_value: json(e.newValue), details: json(e.details ?? null) }));
  await q.query(
    `INSERT INTO events (record_id, party_id, actor, source, kind, field, old_value, new_value, details)
     SELECT x.record_id, x.party_id, $1, $2, x.kind, x.field, x.old_value::jsonb, x.new_value::jsonb, x.details::jsonb
     FROM ROWS FROM (json_to_recordset($3::json) AS (record_id bigint, party_id bigint, kind text, field text, old_value text, new_value text, details text))
       WITH ORDINALITY AS x(record_id, party_id, kind, field, old_value, new_value, details, n)
     ORDER BY x.n`,
    [actor.id, actor.source, JSON.stringify(rows)],
  );
}

export async function recordHistory(q: Queryable, recordId: number): Promise<EventRow[]> {
  const r = await q.query<EventRow>(
    `SELECT id, at, actor, source, kind, field, old_value, new_value, details FROM events WHERE record_id = $1 ORDER BY id`,
    [recordId],
  );
  return r.rows;
}

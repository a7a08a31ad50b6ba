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

export async function recordHistory(q: Queryable, recordId: number): Promise<EventRow[]> {
  const r = await q.query<EventRow>(
    `SELECT id, at, actor, source, kind, field, old_value, new_value, details FROM events WHERE record_id = $1 ORDER BY id`,
    [recordId],
  );
  return r.rows;
}

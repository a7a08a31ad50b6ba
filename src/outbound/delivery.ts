import type { Actor } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { recordEvent } from '../records/events.js';

// What delivery status notifications (bounces, delay and delivery reports) do to an outbox row.
// Intake decides which row a report is about and that its recipients are that row's; the row and
// its audit event are written here, beside the rest of the outbox.

export interface DeliveryTarget { id: number; record_id: number | null; party_id: number | null; to_addresses: string[] }

/** The row's recipients as bare lower-case addresses ("Имя <a@b>" → "a@b"). */
export function rowRecipients(o: { to_addresses: string[] }): Set<string> {
  return new Set(o.to_addresses.map((a) => (/<([^>]+)>/.exec(a)?.[1] ?? a).trim().toLowerCase()));
}

/** A permanent failure: the row is bounced, with the server's reason. */
export async function markBounced(q: Queryable, actor: Actor, o: DeliveryTarget, recipients: string[], why: string): Promise<void> {
  await q.query(`UPDATE outbox SET status = 'bounced', last_response = $2, updated_at = now() WHERE id = $1`, [o.id, why]);
  if (o.record_id) await recordEvent(q, actor, { recordId: o.record_id, partyId: o.party_id, kind: 'mail_bounced', field: `outbox:${o.id}`, newValue: { outbox: o.id, to: recipients, reason: why } });
}

/** A delay: noted, the row stays as it is (the receiving server is still trying). */
export async function noteDelayed(q: Queryable, actor: Actor, o: DeliveryTarget, recipients: string[], why: string): Promise<void> {
  await q.query(`UPDATE outbox SET delayed_at = now(), delivery_note = $2, updated_at = now() WHERE id = $1`, [o.id, why]);
  if (o.record_id) await recordEvent(q, actor, { recordId: o.record_id, partyId: o.party_id, kind: 'mail_delayed', field: `outbox:${o.id}`, newValue: { outbox: o.id, to: recipients, reason: why } });
}

/** A delivery report: the row is delivered (a bounce already recorded is not undone). */
export async function markDelivered(q: Queryable, actor: Actor, o: DeliveryTarget, recipients: string[], why: string): Promise<void> {
  await q.query(`UPDATE outbox SET status = CASE WHEN status = 'bounced' THEN status ELSE 'delivered' END, delivered_at = now(), delivery_note = $2, updated_at = now() WHERE id = $1`, [o.id, why]);
  if (o.record_id) await recordEvent(q, actor, { recordId: o.record_id, partyId: o.party_id, kind: 'mail_delivered', field: `outbox:${o.id}`, newValue: { outbox: o.id, to: recipients, report: why } });
}

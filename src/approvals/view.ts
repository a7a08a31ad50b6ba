import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { getRecord } from '../records/records.js';

// Approvals as read (`dossier approval <ref>`, `record show`): no mail code, so that the commands
// that only show a record do not load it.

export type ApprovalStatus = 'pending' | 'approved' | 'rejected';
export type StepState = 'waiting' | 'asked' | 'approved' | 'rejected';

export interface ApprovalRow { id: number; record_id: number; ref: string; chain: string; attachment_id: number; file_name: string; sha256: string; content_type: string; status: ApprovalStatus; current_step: number; started_by: string; started_at: Date; finished_at: Date | null }
export interface StepRow { approval_id: number; position: number; approver: string; name: string; state: StepState; asked_at: Date | null; outbox_id: number | null; decided_at: Date | null; reason: string | null; journal_id: number | null }

export interface ApprovalView {
  id: number;
  ref: string;
  chain: string;
  title: string;
  attachment: number;
  file: string;
  status: ApprovalStatus;
  startedBy: string;
  startedAt: Date;
  finishedAt: Date | null;
  steps: { position: number; approver: string; name: string; state: StepState; askedAt: Date | null; decidedAt: Date | null; reason: string | null; journal: number | null }[];
  /** Replies that did not count (not authenticated, not the approver whose turn it was), from the audit trail. */
  notCounted: { at: Date; from: string; why: string; journal: number | null }[];
}

export const APPROVAL_SQL = `SELECT ap.id::int, ap.record_id::int, r.ref, ap.chain, ap.attachment_id::int, a.file_name, a.sha256, a.content_type, ap.status, ap.current_step,
  ap.started_by, ap.started_at, ap.finished_at
  FROM approvals ap JOIN records r ON r.id = ap.record_id JOIN attachments a ON a.id = ap.attachment_id`;

export const steps = async (q: Queryable, id: number) =>
  (await q.query<StepRow>('SELECT approval_id::int, position, approver, name, state, asked_at, outbox_id::int, decided_at, reason, journal_id::int FROM approval_steps WHERE approval_id = $1 ORDER BY position', [id])).rows;

/** `dossier approval <ref>`: every approval of the record, who approved what and when. */
export async function listApprovals(app: App, ref: string): Promise<ApprovalView[]> {
  const record = await getRecord(app.db, ref);
  const rows = (await app.db.query<ApprovalRow>(`${APPROVAL_SQL} WHERE ap.record_id = $1 ORDER BY ap.id`, [record.id])).rows;
  const refused = (await app.db.query<{ at: Date; field: string; new_value: { from: string; why: string; journal: number | null } }>(`SELECT at, field, new_value FROM events WHERE record_id = $1 AND kind = 'approval_not_counted' ORDER BY id`, [record.id])).rows;
  const out: ApprovalView[] = [];
  for (const ap of rows) {
    out.push({
      id: ap.id, ref: ap.ref, chain: ap.chain, title: app.config.approvals.chains[ap.chain]?.title || ap.chain, attachment: ap.attachment_id, file: ap.file_name,
      status: ap.status, startedBy: ap.started_by, startedAt: ap.started_at, finishedAt: ap.finished_at,
      steps: (await steps(app.db, ap.id)).map((s) => ({ position: s.position, approver: s.approver, name: s.name, state: s.state, askedAt: s.asked_at, decidedAt: s.decided_at, reason: s.reason, journal: s.journal_id })),
      notCounted: refused.filter((e) => e.field === `approval:${ap.id}`).map((e) => ({ at: e.at, from: e.new_value.from, why: e.new_value.why, journal: e.new_value.journal ?? null })),
    });
  }
  return out;
}


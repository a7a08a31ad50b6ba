import { buffer } from 'node:stream/consumers';
import type { Actor, App } from '../app.js';
import { queueMail } from '../db/queues.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { enqueueMail, type OutboxRow } from '../outbound/outbox.js';
import { recordEvent } from '../records/events.js';
import { getRecord } from '../records/records.js';
import { subjectTag } from '../text/refs.js';
import { approvalTag, readApprovalReply } from './reply.js';
import { APPROVAL_TEXTS, type Lang } from './texts.js';

// Approvals by reply (the contractor-onboarding seed's multi-stage approval). A configured chain of
// approvers (approvals.chains) approves one document of a record: each approver in turn is emailed
// the document with an [APR-n] tag in the subject; their reply «согласовано»/«approved» sends it to
// the next, «отклонено: причина»/«rejected: reason» returns it to staff with the reason. A reply
// counts only from the approver whose turn it is, and only when their mail passes the same
// authentication as staff mail (intake.staffAuth, decided by the intake before it calls
// answerApproval). Every step is an audit event on the record.

import { APPROVAL_SQL, listApprovals, steps, type ApprovalRow, type ApprovalView, type StepRow } from './view.js';

export type { ApprovalStatus, ApprovalView, StepState } from './view.js';

function chainOf(app: App, name: string | undefined) {
  const chains = app.config.approvals.chains;
  const names = Object.keys(chains);
  const chosen = name ?? (names.length === 1 ? names[0]! : undefined);
  const chain = chosen ? chains[chosen] : undefined;
  if (!chosen || !chain) {
    throw new DossierError('APPROVAL_CHAIN_UNKNOWN', name ? `There is no approval chain "${name}".` : `Name the approval chain (--chain): the configuration has ${names.length || 'none'}.`, {
      hint: names.length ? `Chains: ${names.join(', ')} (approvals.chains in the configuration).` : 'Add one under approvals.chains in the configuration: its approvers, in order.',
    });
  }
  return { name: chosen, title: chain.title || chosen, category: chain.category, approvers: chain.approvers };
}

/** The document: an attachment number of the record, or the newest attachment of a category (the chain's by default). */
async function documentOf(q: Queryable, record: { id: number; ref: string }, doc: string | undefined, category: string | undefined) {
  const cols = 'SELECT id::int, file_name FROM attachments WHERE record_id = $1 AND detached_at IS NULL';
  let row: { id: number; file_name: string } | undefined;
  if (doc && /^\d+$/.test(doc)) row = (await q.query<{ id: number; file_name: string }>(`${cols} AND id = $2`, [record.id, Number(doc)])).rows[0];
  else if (doc ?? category) row = (await q.query<{ id: number; file_name: string }>(`${cols} AND category = $2 ORDER BY id DESC LIMIT 1`, [record.id, doc ?? category])).rows[0];
  if (!row) {
    throw new DossierError('APPROVAL_DOCUMENT_NOT_FOUND', doc ? `${record.ref} has no attachment ${/^\d+$/.test(doc) ? `#${doc}` : `of the category "${doc}"`} to approve.` : `Which document of ${record.ref}? The chain names no category.`, {
      hint: `Give --doc <attachment number> (the first column of \`dossier record show ${record.ref}\`) or --doc <category>.`,
    });
  }
  return row;
}

const langOf = (app: App): Lang => app.config.notifications.language ?? app.config.language;
const day = (d: Date, tz: string) => new Intl.DateTimeFormat('ru-RU', { timeZone: tz, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);

/** Emails one step's approver the document (in the caller's transaction); marks the step asked. */
async function askStep(app: App, q: Queryable, actor: Actor, ap: ApprovalRow, all: StepRow[], position: number): Promise<OutboxRow> {
  const step = all.find((s) => s.position === position)!;
  const title = app.config.approvals.chains[ap.chain]?.title || ap.chain;
  const tz = app.config.deadlines.timeZone;
  const t = APPROVAL_TEXTS[langOf(app)];
  const before = all.filter((s) => s.state === 'approved').map((s) => t.approvedBefore(s, day(s.decided_at!, tz)));
  const content = await buffer(await app.blobs.open(ap.sha256));
  const row = await enqueueMail(app, q, actor, {
    recordId: ap.record_id,
    partyId: null,
    kind: 'notification',
    to: [step.approver],
    replyTo: app.config.mail.intakeAddress,
    subject: `${subjectTag(ap.ref)} ${approvalTag(ap.id)} ${t.subject(title, ap.file_name, position, all.length)}`,
    text: t.request({ ...step, ref: ap.ref, file: ap.file_name, title, before }).join('\n'),
    attachments: [{ filename: ap.file_name, content, contentType: ap.content_type }],
    automatic: false,
  });
  await q.query(`UPDATE approval_steps SET state = 'asked', asked_at = now(), outbox_id = $3 WHERE approval_id = $1 AND position = $2`, [ap.id, position, row.id]);
  await recordEvent(q, actor, { recordId: ap.record_id, kind: 'approval_requested', field: `approval:${ap.id}`, newValue: { approval: ap.id, step: position, of: all.length, approver: step.approver, outbox: row.id, file: ap.file_name } });
  return row;
}

export interface StartInput { chain?: string | undefined; doc?: string | undefined }

/** `dossier approval start <ref>`: the chain begins; its first approver is emailed the document. */
export async function startApproval(app: App, actor: Actor, ref: string, input: StartInput = {}): Promise<ApprovalView> {
  const chain = chainOf(app, input.chain);
  const { id, outbox } = await withTransaction(app.db, async (c) => {
    const record = await getRecord(c, ref, { forUpdate: true });
    const doc = await documentOf(c, record, input.doc, chain.category);
    const open = (await c.query<{ id: number }>(`SELECT id::int FROM approvals WHERE attachment_id = $1 AND chain = $2 AND status = 'pending'`, [doc.id, chain.name])).rows[0];
    if (open) throw new DossierError('APPROVAL_ALREADY_OPEN', `#${doc.id} ${doc.file_name} is already waiting for approval (approval #${open.id}).`, { hint: `See dossier approval ${record.ref}.` });
    const newId = (await c.query<{ id: number }>('INSERT INTO approvals (record_id, chain, attachment_id, started_by) VALUES ($1, $2, $3, $4) RETURNING id::int', [record.id, chain.name, doc.id, actor.id])).rows[0]!.id;
    for (const [i, a] of chain.approvers.entries()) {
      await c.query('INSERT INTO approval_steps (approval_id, position, approver, name) VALUES ($1, $2, $3, $4)', [newId, i + 1, a.email.toLowerCase(), a.name]);
    }
    await recordEvent(c, actor, { recordId: record.id, kind: 'approval_started', field: `approval:${newId}`, newValue: { approval: newId, chain: chain.name, attachment: doc.id, file: doc.file_name, approvers: chain.approvers.map((a) => a.email.toLowerCase()) } });
    const ap = (await c.query<ApprovalRow>(`${APPROVAL_SQL} WHERE ap.id = $1`, [newId])).rows[0]!;
    const row = await askStep(app, c, actor, ap, await steps(c, newId), 1);
    return { id: newId, outbox: row.id };
  });
  // One INSERT of the mail job (no pg-boss started here); a row without a job is queued by the worker's sweep.
  await queueMail(app.db, [outbox]);
  return (await listApprovals(app, ref)).find((a) => a.id === id)!;
}

export interface ReplyInput {
  approvalId: number;
  /** The From address (lower case), or null. */
  from: string | null;
  /** Whether the message passed the staff-authentication check (intake.staffAuth), and what it found. */
  authenticated: boolean;
  authReason: string;
  /** The sender's own text (quoted history removed). */
  text: string;
  journalId: number;
  messageId: string | null;
}

export interface ReplyOutcome { outcome: 'applied' | 'refused' | 'quarantined'; reason: string; recordId?: number; ref?: string; outbox: OutboxRow[] }

/**
 * An approver's reply, in the intake's transaction (the caller queues the returned outbox rows after
 * its commit). Only the approver whose turn it is, authenticated, moves the chain; anything else is
 * recorded as not counted and changes nothing.
 */
export async function answerApproval(app: App, q: Queryable, actor: Actor, r: ReplyInput): Promise<ReplyOutcome> {
  const ap = (await q.query<ApprovalRow>(`${APPROVAL_SQL} WHERE ap.id = $1 FOR UPDATE OF ap`, [r.approvalId])).rows[0];
  if (!ap) return { outcome: 'quarantined', reason: `the subject names approval #${r.approvalId}, which does not exist`, outbox: [] };
  const base = { recordId: ap.record_id, ref: ap.ref };
  const from = r.from ?? '(no sender)';
  const all = await steps(q, ap.id);
  const notCounted = async (why: string): Promise<ReplyOutcome> => {
    await recordEvent(q, actor, { recordId: ap.record_id, kind: 'approval_not_counted', field: `approval:${ap.id}`, newValue: { approval: ap.id, from, why, journal: r.journalId, messageId: r.messageId } });
    return { outcome: 'quarantined', reason: `reply to approval #${ap.id} (${ap.ref}) not counted: ${why}`, ...base, outbox: [] };
  };
  if (!r.authenticated) return notCounted(`the mail from ${from} is not authenticated (${r.authReason})`);
  if (ap.status !== 'pending') return { outcome: 'refused', reason: `approval #${ap.id} (${ap.ref}) is already ${ap.status}; the reply changes nothing`, ...base, outbox: [] };
  const step = all.find((s) => s.position === ap.current_step)!;
  if (from !== step.approver) {
    const theirs = all.find((s) => s.approver === from);
    return notCounted(theirs ? `it is step ${step.position}'s turn (${step.approver}), not ${from}'s (step ${theirs.position})` : `${from} is not an approver of this chain (step ${step.position} is ${step.approver}'s)`);
  }
  const said = readApprovalReply(r.text);
  const tz = app.config.deadlines.timeZone;
  const title = app.config.approvals.chains[ap.chain]?.title || ap.chain;
  const t = APPROVAL_TEXTS[langOf(app)];
  const staff = app.config.approvals.notifyTo.length ? app.config.approvals.notifyTo : app.config.mail.staff;
  const outbox: OutboxRow[] = [];
  const tellStaff = async (subject: string, lines: string[]) => {
    if (!staff.length) return;
    outbox.push(await enqueueMail(app, q, actor, { recordId: ap.record_id, partyId: null, kind: 'notification', to: staff, subject: `${subjectTag(ap.ref)} ${subject}`, text: [...lines, '', t.more(ap.ref)].join('\n'), automatic: true }));
  };
  if (said.verdict === 'unclear') {
    outbox.push(
      await enqueueMail(app, q, actor, {
        recordId: ap.record_id, partyId: null, kind: 'confirmation', to: [step.approver], subject: `Re: ${subjectTag(ap.ref)} ${approvalTag(ap.id)} ${t.subject(title, ap.file_name, step.position, all.length)}`,
        text: t.unclear(ap.file_name).join('\n'),
        ...(r.messageId ? { inReplyTo: r.messageId, references: [r.messageId] } : {}), automatic: true,
      }),
    );
    return { outcome: 'refused', reason: `${from}'s reply to approval #${ap.id} says neither approved nor rejected; asked again`, ...base, outbox };
  }
  if (said.verdict === 'rejected') {
    const reason = said.reason || t.noReason;
    await q.query(`UPDATE approval_steps SET state = 'rejected', decided_at = now(), reason = $3, journal_id = $4 WHERE approval_id = $1 AND position = $2`, [ap.id, step.position, reason, r.journalId]);
    await q.query(`UPDATE approvals SET status = 'rejected', finished_at = now() WHERE id = $1`, [ap.id]);
    await recordEvent(q, actor, { recordId: ap.record_id, kind: 'approval_rejected', field: `approval:${ap.id}`, oldValue: { status: 'pending', step: step.position }, newValue: { status: 'rejected', step: step.position, approver: from, reason, file: ap.file_name, journal: r.journalId } });
    await tellStaff(t.rejectedSubject(title, ap.file_name, ap.id), t.rejected(step, ap.file_name, ap.ref, day(new Date(), tz), reason));
    return { outcome: 'applied', reason: `approval #${ap.id} (${ap.file_name}) rejected by ${from} at step ${step.position} of ${all.length}: ${reason}`, ...base, outbox };
  }
  await q.query(`UPDATE approval_steps SET state = 'approved', decided_at = now(), reason = $3, journal_id = $4 WHERE approval_id = $1 AND position = $2`, [ap.id, step.position, said.comment || null, r.journalId]);
  await recordEvent(q, actor, { recordId: ap.record_id, kind: 'approval_approved', field: `approval:${ap.id}`, oldValue: { step: step.position, state: 'asked' }, newValue: { step: step.position, of: all.length, approver: from, comment: said.comment || null, file: ap.file_name, journal: r.journalId } });
  const next = all.find((s) => s.position === step.position + 1);
  if (next) {
    await q.query('UPDATE approvals SET current_step = $2 WHERE id = $1', [ap.id, next.position]);
    step.state = 'approved';
    step.decided_at = new Date();
    outbox.push(await askStep(app, q, actor, ap, all, next.position));
    return { outcome: 'applied', reason: `approval #${ap.id} (${ap.file_name}): step ${step.position} of ${all.length} approved by ${from}; sent to ${next.approver}`, ...base, outbox };
  }
  await q.query(`UPDATE approvals SET status = 'approved', finished_at = now() WHERE id = $1`, [ap.id]);
  await recordEvent(q, actor, { recordId: ap.record_id, kind: 'approval_completed', field: `approval:${ap.id}`, oldValue: { status: 'pending' }, newValue: { status: 'approved', file: ap.file_name, approvers: all.map((s) => s.approver) } });
  await tellStaff(t.approvedSubject(title, ap.file_name, ap.id), t.approved(ap.file_name, ap.ref, all.map((s) => `${s.name || s.approver} (${s.approver})${s.position === step.position ? `, ${day(new Date(), tz)}` : s.decided_at ? `, ${day(s.decided_at, tz)}` : ''}`)));
  return { outcome: 'applied', reason: `approval #${ap.id} (${ap.file_name}) approved by ${from}, the last of ${all.length}: approved by all`, ...base, outbox };
}

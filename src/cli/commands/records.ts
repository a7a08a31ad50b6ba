import type { Actor, App } from '../../app.js';
import { listApprovals, type ApprovalView } from '../../approvals/view.js';
import { describeReuse, listEvidence, type EvidenceMatch } from '../../evidence/reuse.js';
import { listAttachments, type AttachmentRow } from '../../records/attachments.js';
import { recordHistory, type EventRow } from '../../records/events.js';
import { recordParties, unlinkParty, type LinkedParty } from '../../records/parties.js';
import { changeStatus, createRecord, findRecords, getRecord, recordType, type FoundRecord, type RecordRow } from '../../records/records.js';
import { formatBytes, formatTable, formatTime } from '../output.js';

export async function recordCreate(app: App, actor: Actor, opts: { type: string; title?: string | undefined }): Promise<RecordRow> {
  recordType(app.config, opts.type);
  const schemaVersion = await app.schemas.newestPublished(opts.type);
  return createRecord(app.db, app.config, actor, { type: opts.type, title: opts.title, schemaVersion });
}

export interface RecordView { record: RecordRow; statusLabel: string; parties: LinkedParty[]; attachments: AttachmentRow[]; reusedEvidence: EvidenceMatch[]; approvals: ApprovalView[] }

export async function recordShow(app: App, ref: string): Promise<RecordView> {
  const record = await getRecord(app.db, ref);
  const t = recordType(app.config, record.type);
  return {
    record,
    statusLabel: t.statuses[record.status]?.ru ?? record.status,
    parties: await recordParties(app.db, record.id),
    attachments: await listAttachments(app.db, record.id),
    reusedEvidence: await listEvidence(app.db, { recordId: record.id }), // issue 17
    approvals: await listApprovals(app, record.ref), // issue 17
  };
}

export function renderRecord(v: RecordView): string {
  const r = v.record;
  const lines = [
    `${r.ref}  ${r.title ?? ''}`.trimEnd(),
    `  type      ${r.type}`,
    `  status    ${r.status} (${v.statusLabel})`,
    `  schema    ${r.schema_version === null ? '—' : 'v' + r.schema_version}`,
    `  created   ${formatTime(r.created_at)} by ${r.created_by}`,
    `  updated   ${formatTime(r.updated_at)}`,
    '',
    v.parties.length
      ? formatTable(['party', 'role', 'name', 'emails'], v.parties.map((p) => [p.key, p.role, p.name, p.emails.join(', ')]), { shrink: [2] })
      : 'No parties linked (dossier record link <ref> <party> --role <role>).',
    '',
    v.attachments.length
      ? formatTable(['#', 'category', 'file', 'type', 'size'], v.attachments.map((a) => [a.id, a.category, a.file_name + (a.oversize_forced ? ' (left out of packages: too big)' : ''), a.content_type, formatBytes(a.size)]), { shrink: [2, 3] })
      : 'No attachments (dossier attach <ref> <file…> --category <c>).',
    ...(v.reusedEvidence.length ? ['', 'REUSED EVIDENCE (dossier evidence):', ...describeReuse(r.ref, v.reusedEvidence)] : []),
    ...(v.approvals.length
      ? ['', `APPROVALS (dossier approval ${r.ref}):`, ...v.approvals.map((a) => `  #${a.id} ${a.title} — #${a.attachment} ${a.file}: ${a.status}; ${a.steps.map((s) => `${s.approver} ${s.state}${s.state === 'rejected' && s.reason ? ` (${s.reason})` : ''}`).join(', ')}`)]
      : []),
  ];
  return lines.join('\n');
}

export interface ListOptions { type?: string | undefined; status?: string | undefined; limit?: string | undefined; offset?: string | undefined; before?: string | undefined }

const page = (o: ListOptions) => ({ limit: o.limit, offset: o.offset, before: o.before });

/** Records newest first, a page at a time (--limit, --offset or --before <ref>). */
export async function recordList(app: App, o: ListOptions): Promise<FoundRecord[]> {
  return findRecords(app.db, app.config, { type: o.type, status: o.status, ...page(o) });
}

/** Records where the text appears (reference, names, phones, INN/passport, any value, status, dates). */
export async function recordFind(app: App, text: string, o: ListOptions): Promise<FoundRecord[]> {
  return findRecords(app.db, app.config, { text, type: o.type, status: o.status, ...page(o) });
}

export function renderRecordList(rows: FoundRecord[], opts: { home?: string; found?: boolean; limit?: string | undefined } = {}): string {
  if (!rows.length) return opts.found ? 'Nothing found.' : `No records${opts.home ? ` in ${opts.home}` : ''}.${opts.home ? ' (`dossier where` says why this data home.)' : ''}`;
  const table = opts.found
    ? formatTable(['ref', 'status', 'title', 'found in'], rows.map((r) => [r.ref, r.status, r.title, r.matched.join(', ')]), { shrink: [2] })
    : formatTable(['ref', 'status', 'created', 'title'], rows.map((r) => [r.ref, r.status, formatTime(r.created_at), r.title]));
  // A full page: there may be more.
  return rows.length >= Number(opts.limit ?? 50) ? `${table}\nNewest first; older ones: --before ${rows[rows.length - 1]!.ref}.` : table;
}

export async function recordUnlink(app: App, actor: Actor, o: { ref: string; party: string; role?: string | undefined; reason?: string | undefined }) {
  return unlinkParty(app.db, actor, o.ref, o.party, o.role, o.reason);
}

export const renderUnlink = (r: { ref: string; party: string; roles: string[] }) =>
  `${r.ref}: ${r.party} unlinked (was ${r.roles.join(', ')}). Its earlier mail and events stay in the history.`;

export async function recordStatus(app: App, actor: Actor, opts: { ref: string; status: string; reason?: string | undefined }) {
  const { record, from } = await changeStatus(app.db, app.config, actor, opts);
  return { ref: record.ref, from, to: record.status };
}

export async function recordHistoryCmd(app: App, ref: string): Promise<{ ref: string; events: EventRow[] }> {
  const record = await getRecord(app.db, ref);
  return { ref: record.ref, events: await recordHistory(app.db, record.id) };
}

const show = (v: unknown): string => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

export function describeEvent(e: EventRow): string {
  switch (e.kind) {
    case 'record_created':
      return `created (${show((e.new_value as { status?: string }).status)})`;
    case 'status_changed':
      return `status ${show(e.old_value)} → ${show(e.new_value)}${e.details?.reason ? ` (reason: ${String(e.details.reason)})` : ''}`;
    case 'party_linked': {
      const v = e.new_value as { party: string; role: string };
      return `party ${v.party} linked as ${v.role}`;
    }
    case 'attachment_added': {
      const v = e.new_value as { id?: number; file: string; category: string; size: number; oversizeForced?: boolean };
      return `attachment${v.id ? ` #${v.id}` : ''} ${v.file} (${v.category}, ${formatBytes(v.size)})${v.oversizeForced ? ', kept with --force although too big for packages' : ''}`;
    }
    case 'attachment_detached': {
      const v = e.old_value as { id: number; file: string; category: string };
      return `attachment #${v.id} ${v.file} (${v.category}) detached${e.details?.reason ? ` (reason: ${String(e.details.reason)})` : ''}`;
    }
    case 'party_unlinked': {
      const v = e.old_value as { party: string; role: string };
      return `party ${v.party} unlinked (was ${v.role})${e.details?.reason ? ` (reason: ${String(e.details.reason)})` : ''}`;
    }
    case 'mail_cancelled':
      return `email ${e.field?.replace('outbox:', '#')} cancelled before it was sent${e.details?.reason ? ` (reason: ${String(e.details.reason)})` : ''}`;
    case 'field_set':
    case 'field_cleared':
    case 'override_confirmed': {
      const section = (e.details?.section as string | undefined) ?? 'base';
      const where = section === 'base' ? '' : ` [${section}]`;
      const verb = e.kind === 'field_cleared' ? 'cleared' : e.kind === 'override_confirmed' ? 'override confirmed' : 'set';
      // A Message-ID says nothing to a reader: the actor (message:17) already points at the mail.
      const from = e.details?.origin ? String(e.details.origin) : '';
      const origin = !from || (/^<[^>]*@[^>]*>$/.test(from) && e.actor.startsWith('message:')) ? '' : /^<[^>]*@[^>]*>$/.test(from) ? ' (from an email)' : ` (from ${from})`;
      return `field ${e.field}${where} ${verb}: ${show(e.old_value)} → ${show(e.new_value)}${origin}`;
    }
    case 'package_built': {
      const v = e.new_value as { file: string; files: number; size: number; part: number; parts: number };
      return `package for ${partyOf(e.field)} built: ${v.file} (${v.files} files, ${formatBytes(v.size)}${v.parts > 1 ? `, part ${v.part} of ${v.parts}` : ''})`;
    }
    case 'mail_queued': {
      const v = e.new_value as { outbox: number; kind: string; to: string[]; subject: string };
      return `${v.kind} email #${v.outbox} queued to ${v.to.join(', ')}: «${v.subject}»`;
    }
    case 'mail_sent': {
      const v = e.new_value as { outbox: number; to: string[]; attempts: number };
      return `email #${v.outbox} sent to ${v.to.join(', ')}${v.attempts > 1 ? ` (attempt ${v.attempts})` : ''}`;
    }
    case 'mail_failed':
    case 'mail_bounced': {
      const v = e.new_value as { outbox: number; to: string[]; reason: string };
      return `email #${v.outbox} to ${v.to.join(', ')} ${e.kind === 'mail_failed' ? 'failed' : 'bounced'}: ${v.reason}`;
    }
    case 'mail_retried':
      return `email ${e.field?.replace('outbox:', '#')} put back in the queue (was ${show(e.old_value)})`;
    case 'note_added': {
      const text = show(e.new_value);
      return `note: ${text.length > 200 ? text.slice(0, 200) + '…' : text}`;
    }
    // Issue 17: approvals by reply.
    case 'approval_started': {
      const v = e.new_value as { approval: number; file: string; approvers: string[] };
      return `approval #${v.approval} of ${v.file} started: ${v.approvers.join(' → ')}`;
    }
    case 'approval_requested': {
      const v = e.new_value as { approval: number; step: number; of: number; approver: string; outbox: number };
      return `approval #${v.approval}: step ${v.step} of ${v.of} asked of ${v.approver} (email #${v.outbox})`;
    }
    case 'approval_approved': {
      const v = e.new_value as { step: number; of: number; approver: string; comment: string | null };
      return `${e.field?.replace('approval:', 'approval #')}: step ${v.step} of ${v.of} approved by ${v.approver}${v.comment ? ` («${v.comment}»)` : ''}`;
    }
    case 'approval_rejected': {
      const v = e.new_value as { step: number; approver: string; reason: string };
      return `${e.field?.replace('approval:', 'approval #')}: REJECTED by ${v.approver} at step ${v.step}: ${v.reason}`;
    }
    case 'approval_completed':
      return `${e.field?.replace('approval:', 'approval #')}: ${(e.new_value as { file: string }).file} approved by all`;
    case 'approval_not_counted': {
      const v = e.new_value as { from: string; why: string };
      return `${e.field?.replace('approval:', 'approval #')}: a reply from ${v.from} NOT counted — ${v.why}`;
    }
    case 'schema_migrated':
      return `schema v${show(e.old_value)} → v${show(e.new_value)}`;
    default:
      return `${e.kind}${e.field ? ' ' + e.field : ''}: ${show(e.old_value)} → ${show(e.new_value)}`;
  }
}

/** "package:bank-sever" → "bank-sever". */
const partyOf = (field: string | null) => (field ?? '').replace(/^[a-z]+:/, '');

export function renderHistory(h: { ref: string; events: EventRow[] }): string {
  return `${h.ref}\n` + formatTable(['when', 'who', 'what'], h.events.map((e) => [formatTime(e.at), e.actor, describeEvent(e)]), { shrink: [1] });
}

import type { Actor, App } from '../../app.js';
import { describeReuse, listEvidence, type EvidenceMatch } from '../../evidence/reuse.js';
import { listAttachments, type AttachmentRow } from '../../records/attachments.js';
import { recordHistory, type EventRow } from '../../records/events.js';
import { recordParties, type LinkedParty } from '../../records/parties.js';
import { changeStatus, createRecord, getRecord, listRecords, recordType, type RecordRow } from '../../records/records.js';
import { formatBytes, formatTable, formatTime } from '../output.js';

export async function recordCreate(app: App, actor: Actor, opts: { type: string; title?: string | undefined }): Promise<RecordRow> {
  recordType(app.config, opts.type);
  const schemaVersion = await app.schemas.newestPublished(opts.type);
  return createRecord(app.db, app.config, actor, { type: opts.type, title: opts.title, schemaVersion });
}

export interface RecordView { record: RecordRow; statusLabel: string; parties: LinkedParty[]; attachments: AttachmentRow[]; reusedEvidence: EvidenceMatch[] }

export async function recordShow(app: App, ref: string): Promise<RecordView> {
  const record = await getRecord(app.db, ref);
  const t = recordType(app.config, record.type);
  return {
    record,
    statusLabel: t.statuses[record.status]?.ru ?? record.status,
    parties: await recordParties(app.db, record.id),
    attachments: await listAttachments(app.db, record.id),
    reusedEvidence: await listEvidence(app.db, { recordId: record.id }), // issue 17
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
      ? formatTable(['party', 'role', 'kind', 'name', 'emails'], v.parties.map((p) => [p.key, p.role, p.kind, p.name, p.emails.join(', ')]))
      : 'No parties linked (dossier record link <ref> <party> --role <role>).',
    '',
    v.attachments.length
      ? formatTable(['#', 'category', 'file', 'type', 'size', 'sha256'], v.attachments.map((a) => [a.id, a.category, a.file_name, a.content_type, formatBytes(a.size), a.sha256.slice(0, 12)]))
      : 'No attachments (dossier attach <ref> <file…> --category <c>).',
    ...(v.reusedEvidence.length ? ['', 'REUSED EVIDENCE (dossier evidence):', ...describeReuse(r.ref, v.reusedEvidence)] : []),
  ];
  return lines.join('\n');
}

export async function recordList(app: App, opts: { type?: string | undefined; status?: string | undefined }): Promise<RecordRow[]> {
  return listRecords(app.db, app.config, opts);
}

export function renderRecordList(rows: RecordRow[]): string {
  if (!rows.length) return 'No records.';
  return formatTable(['ref', 'type', 'status', 'title', 'created'], rows.map((r) => [r.ref, r.type, r.status, r.title, formatTime(r.created_at)]));
}

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
      const v = e.new_value as { file: string; category: string; size: number };
      return `attachment ${v.file} (${v.category}, ${formatBytes(v.size)})`;
    }
    case 'field_set':
    case 'field_cleared':
    case 'override_confirmed': {
      const section = (e.details?.section as string | undefined) ?? 'base';
      const where = section === 'base' ? '' : ` [${section}]`;
      const verb = e.kind === 'field_cleared' ? 'cleared' : e.kind === 'override_confirmed' ? 'override confirmed' : 'set';
      const origin = e.details?.origin ? ` (from ${String(e.details.origin)})` : '';
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
    case 'schema_migrated':
      return `schema v${show(e.old_value)} → v${show(e.new_value)}`;
    default:
      return `${e.kind}${e.field ? ' ' + e.field : ''}: ${show(e.old_value)} → ${show(e.new_value)}`;
  }
}

/** "package:bank-sever" → "bank-sever". */
const partyOf = (field: string | null) => (field ?? '').replace(/^[a-z]+:/, '');

export function renderHistory(h: { ref: string; events: EventRow[] }): string {
  return `${h.ref}\n` + formatTable(['when', 'who', 'what'], h.events.map((e) => [formatTime(e.at), e.actor, describeEvent(e)]));
}

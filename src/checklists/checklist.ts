import type { Actor, App } from '../app.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { DossierError, isDossierError } from '../errors.js';
import { profileFor } from '../packages/profile.js';
import { recordEvent } from '../records/events.js';
import { recordParties, type LinkedParty } from '../records/parties.js';
import { getRecord, type RecordRow } from '../records/records.js';
import { parseDate } from '../schemas/values.js';
import { showFields } from '../schemas/fields.js';
import type { ChecklistDocument, ChecklistSpec } from './spec.js';

// Per recipient, what its checklist (package profile) asks for and what the record has: each
// document item present, missing, expired or rejected, and the required fields still empty.
// Staff accept or reject a document (attachment_reviews + an audit event); a file arriving by email
// ticks an item when its name matches the item (onDocumentArrived).

export type ItemState = 'present' | 'missing' | 'expired' | 'rejected';
export type ReviewState = 'pending' | 'accepted' | 'rejected';

export interface ChecklistFile { attachment: number; file: string; review: ReviewState; reason: string | null; dated: string; expired: boolean }
export interface DocumentStatus { key: string; title: string; category: string; min: number; maxAgeDays: number | null; state: ItemState; have: number; files: ChecklistFile[] }
export interface FieldStatus { field: string; label: string; present: boolean }
export interface RecipientChecklist { recipient: string; name: string; complete: boolean; documents: DocumentStatus[]; fields: FieldStatus[] }
export interface ChecklistView { ref: string; recipients: RecipientChecklist[] }

interface ReviewedAttachment { id: number; category: string; file_name: string; created_at: Date; state: ReviewState | null; reason: string | null; document_date: string | null; counts_as: string | null }

const DAY = 86_400_000;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

async function reviewedAttachments(q: Queryable, recordId: number): Promise<ReviewedAttachment[]> {
  return (
    await q.query<ReviewedAttachment>(
      `SELECT a.id::int, a.category, a.file_name, a.created_at, r.state, r.reason, to_char(r.document_date, 'YYYY-MM-DD') AS document_date, r.counts_as
       FROM attachments a LEFT JOIN attachment_reviews r ON r.attachment_id = a.id WHERE a.record_id = $1 ORDER BY a.id`,
      [recordId],
    )
  ).rows;
}

/** One item against the record's files (pure). */
export function itemStatus(item: ChecklistDocument, files: ReviewedAttachment[], now: Date): DocumentStatus {
  const mine = files.filter((f) => (f.counts_as ?? f.category) === item.category);
  const shown: ChecklistFile[] = mine.map((f) => {
    const dated = f.document_date ?? isoDay(f.created_at);
    const expired = item.max_age_days !== undefined && now.getTime() - Date.parse(dated + 'T00:00:00Z') > item.max_age_days * DAY;
    return { attachment: f.id, file: f.file_name, review: f.state ?? 'pending', reason: f.reason, dated, expired };
  });
  const valid = shown.filter((f) => f.review !== 'rejected' && !f.expired).length;
  const state: ItemState = valid >= item.min ? 'present' : shown.some((f) => f.review !== 'rejected' && f.expired) ? 'expired' : shown.some((f) => f.review === 'rejected') ? 'rejected' : 'missing';
  return { key: item.key, title: item.title, category: item.category, min: item.min, maxAgeDays: item.max_age_days ?? null, state, have: valid, files: shown };
}

/** The record's recipients (and lawyers) whose package profile has a checklist. */
async function checklistRecipients(app: App, record: RecordRow, only?: string, q: Queryable = app.db): Promise<{ party: LinkedParty; spec: ChecklistSpec }[]> {
  const parties = (await recordParties(q, record.id)).filter((p, i, all) => ['recipient', 'lawyer'].includes(p.role) && all.findIndex((x) => x.id === p.id) === i);
  if (only && !parties.some((p) => p.key === only)) {
    throw new DossierError('PARTY_NOT_FOUND', `${only} is not a recipient of ${record.ref}.`, { hint: `Recipients: ${parties.map((p) => p.key).join(', ') || 'none'}.` });
  }
  const out: { party: LinkedParty; spec: ChecklistSpec }[] = [];
  for (const party of parties.filter((p) => !only || p.key === only)) {
    let spec: ChecklistSpec | undefined;
    try {
      spec = profileFor(app.templatesDir, party, record.type).checklist;
    } catch (err) {
      if (!isDossierError(err, 'PROFILE_NOT_FOUND')) throw err;
    }
    if (spec) out.push({ party, spec });
    else if (only) throw new DossierError('CHECKLIST_NONE', `${only}'s package profile for a ${record.type} declares no checklist.`, { hint: 'Add a checklist: section to its package.yaml (templates/README.md).' });
  }
  return out;
}

/** `dossier checklist <ref> [--recipient]`. `q`: read in the caller's transaction instead of taking a second
 *  connection (intake's, which holds one and the record's lock: a second per message could exhaust the pool). */
export async function computeChecklist(app: App, ref: string, opts: { recipient?: string | undefined; now?: Date; documentsOnly?: boolean; q?: Queryable } = {}): Promise<ChecklistView> {
  const db = opts.q ?? app.db;
  const record = await getRecord(db, ref);
  const now = opts.now ?? new Date();
  const files = await reviewedAttachments(db, record.id);
  const recipients: RecipientChecklist[] = [];
  for (const { party, spec } of await checklistRecipients(app, record, opts.recipient, db)) {
    const documents = spec.documents.map((d) => itemStatus(d, files, now));
    let fields: FieldStatus[] = [];
    if (spec.fields.length && !opts.documentsOnly) {
      const view = await showFields(app, record.ref, { recipient: party.key, all: true });
      fields = spec.fields.map((id) => {
        const v = view.values.find((x) => x.field === id);
        return { field: id, label: v?.label ?? id, present: Boolean(v && v.provenance !== 'empty') };
      });
    }
    recipients.push({ recipient: party.key, name: party.name, complete: documents.every((d) => d.state === 'present') && fields.every((f) => f.present), documents, fields });
  }
  return { ref: record.ref, recipients };
}

/** What is not there yet, per recipient, as lines a person reads (the request email, the pack send warning). */
export function missingLines(r: RecipientChecklist): string[] {
  const why: Record<ItemState, string> = { present: '', missing: 'нет', expired: 'устарел', rejected: 'отклонён' };
  return [
    ...r.documents.filter((d) => d.state !== 'present').map((d) => `${d.title}${d.min > 1 ? ` (нужно ${d.min}, есть ${d.have})` : ''}${d.maxAgeDays ? ` — не старше ${d.maxAgeDays} дн.` : ''}: ${why[d.state]}${d.state === 'rejected' ? rejectReasons(d) : ''}`),
    ...r.fields.filter((f) => !f.present).map((f) => `${f.label} (${f.field}): не заполнено`),
  ];
}
const rejectReasons = (d: DocumentStatus) => {
  const reasons = d.files.filter((f) => f.review === 'rejected' && f.reason).map((f) => f.reason);
  return reasons.length ? ` (${reasons.join('; ')})` : '';
};

/**
 * `pack send`'s check: the recipients' checklists, with a warning per incomplete one through `warn`,
 * or — strict — a refusal (CHECKLIST_INCOMPLETE) before anything is built. Recipients without a
 * checklist pass.
 */
export async function checklistGate(app: App, ref: string, recipients: string[] | 'all', opts: { strict?: boolean | undefined; warn?: (line: string) => void; now?: Date } = {}): Promise<RecipientChecklist[]> {
  const view = await computeChecklist(app, ref, opts.now ? { now: opts.now } : {});
  const incomplete = view.recipients.filter((r) => !r.complete && (recipients === 'all' || recipients.includes(r.recipient)));
  if (!incomplete.length) return [];
  const text = incomplete.map((r) => `${r.recipient}:\n    - ${missingLines(r).join('\n    - ')}`).join('\n  ');
  if (opts.strict) {
    throw new DossierError('CHECKLIST_INCOMPLETE', `Nothing was sent: the checklist of ${incomplete.map((r) => r.recipient).join(', ')} is not complete for ${view.ref}:\n  ${text}`, {
      hint: `See dossier checklist ${view.ref}; attach what is missing, or send without --strict.`,
      details: { incomplete },
    });
  }
  opts.warn?.(`warning: the checklist is not complete for ${view.ref}:\n  ${text}`);
  return incomplete;
}

async function attachmentOf(q: Queryable, id: number) {
  const row = (await q.query<{ id: number; record_id: number; ref: string; file_name: string; category: string }>('SELECT a.id::int, a.record_id::int, r.ref, a.file_name, a.category FROM attachments a JOIN records r ON r.id = a.record_id WHERE a.id = $1', [id])).rows[0];
  if (!row) throw new DossierError('ATTACHMENT_NOT_FOUND', `There is no attachment #${id}.`, { hint: 'The numbers are in the first column of `dossier record show <ref>`.' });
  return row;
}

export interface ReviewInput { decision: 'accepted' | 'rejected'; reason?: string | undefined; dated?: string | undefined; as?: string | undefined }

/** `dossier doc accept|reject <attachment-id>`: staff's word on one document, audited. */
export async function reviewDocument(app: App, actor: Actor, attachmentId: string | number, input: ReviewInput): Promise<{ attachment: number; ref: string; file: string; state: ReviewState; reason: string | null; dated: string | null; countsAs: string | null }> {
  const id = Number(attachmentId);
  if (!Number.isInteger(id) || id <= 0) throw new DossierError('USAGE', `"${attachmentId}" is not an attachment number.`, { hint: 'The numbers are in the first column of `dossier record show <ref>`.' });
  const reason = input.reason?.trim() || null;
  if (input.decision === 'rejected' && !reason) throw new DossierError('USAGE', 'A rejection needs a reason (--reason "…"): it is what the client is told.', { hint: 'dossier doc reject 12 --reason "справка старше 30 дней"' });
  let dated: string | null = null;
  if (input.dated !== undefined) {
    dated = parseDate(input.dated);
    if (!dated) throw new DossierError('USAGE', `"${input.dated}" is not a date.`, { hint: 'Write it as 21.11.2026 or 2026-11-21.' });
  }
  if (input.as !== undefined && !(input.as in app.config.attachments.categories)) {
    throw new DossierError('CATEGORY_UNKNOWN', `"${input.as}" is not an attachment category.`, { hint: `Categories: ${Object.keys(app.config.attachments.categories).join(', ')}.` });
  }
  return withTransaction(app.db, async (c) => {
    const a = await attachmentOf(c, id);
    const old = (await c.query<{ state: ReviewState; reason: string | null; document_date: string | null; counts_as: string | null }>("SELECT state, reason, to_char(document_date, 'YYYY-MM-DD') AS document_date, counts_as FROM attachment_reviews WHERE attachment_id = $1 FOR UPDATE", [id])).rows[0];
    const next = { state: input.decision, reason: input.decision === 'rejected' ? reason : reason ?? null, document_date: dated ?? old?.document_date ?? null, counts_as: input.as ?? old?.counts_as ?? null };
    await c.query(
      `INSERT INTO attachment_reviews (attachment_id, state, reason, document_date, counts_as, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (attachment_id) DO UPDATE SET state = $2, reason = $3, document_date = $4, counts_as = $5, updated_by = $6, updated_at = now()`,
      [id, next.state, next.reason, next.document_date, next.counts_as, actor.id],
    );
    await recordEvent(c, actor, {
      recordId: a.record_id,
      kind: input.decision === 'accepted' ? 'document_accepted' : 'document_rejected',
      field: `attachment:${id}`,
      oldValue: old ? { state: old.state, reason: old.reason } : { state: 'pending' },
      newValue: { state: next.state, reason: next.reason, file: a.file_name, ...(next.document_date ? { dated: next.document_date } : {}), ...(next.counts_as ? { countsAs: next.counts_as } : {}) },
    });
    return { attachment: id, ref: a.ref, file: a.file_name, state: next.state, reason: next.reason, dated: next.document_date, countsAs: next.counts_as };
  });
}

export interface TickedItem { recipient: string; key: string; title: string; category: string }

/**
 * For the intake action, when a reply brings files (call it in the message's transaction, after the
 * attachment rows are written): each file whose name matches the `match` of an item that is not yet
 * present counts as that item's category from now on (attachment_reviews.counts_as, pending review),
 * with a `checklist_ticked` event. Returns what it ticked, for the note to staff. A file in an
 * item's own category needs nothing: it already counts.
 */
export async function onDocumentArrived(app: App, q: Queryable, actor: Actor, input: { recordId: number; attachmentIds: number[]; now?: Date }): Promise<TickedItem[]> {
  const record = (await q.query<RecordRow>('SELECT * FROM records WHERE id = $1', [input.recordId])).rows[0];
  if (!record) return [];
  const ticked: TickedItem[] = [];
  // Most files match no item: the profiles' patterns are tried first, the checklist's state (without
  // its fields, which ticking does not need) only computed when some file may tick something.
  const files = await reviewedAttachments(q, record.id);
  const patterns = (await checklistRecipients(app, record, undefined, q)).flatMap((r) => r.spec.documents.filter((d) => d.match).map((d) => new RegExp(d.match!, 'iu')));
  if (!input.attachmentIds.some((id) => patterns.some((re) => re.test(files.find((f) => f.id === id)?.file_name ?? '')))) return [];
  const view = await computeChecklist(app, record.ref, { ...(input.now ? { now: input.now } : {}), documentsOnly: true, q });
  const taken = new Set<string>(); // one file ticks one category
  for (const id of input.attachmentIds) {
    const f = files.find((x) => x.id === id);
    if (!f || f.counts_as) continue;
    for (const r of view.recipients) {
      for (const d of r.documents) {
        if (d.state === 'present' || d.category === f.category) continue;
        const item = (await checklistRecipients(app, record, r.recipient, q))[0]?.spec.documents.find((x) => x.key === d.key);
        if (!item?.match || !new RegExp(item.match, 'iu').test(f.file_name)) continue;
        if (!taken.has(`${id}`)) {
          await q.query(
            `INSERT INTO attachment_reviews (attachment_id, state, counts_as, updated_by) VALUES ($1, 'pending', $2, $3)
             ON CONFLICT (attachment_id) DO UPDATE SET counts_as = $2, updated_by = $3, updated_at = now()`,
            [id, d.category, actor.id],
          );
          taken.add(`${id}`);
          f.counts_as = d.category;
        }
        if (f.counts_as !== d.category) continue;
        await recordEvent(q, actor, { recordId: record.id, kind: 'checklist_ticked', field: `attachment:${id}`, newValue: { recipient: r.recipient, item: d.key, title: d.title, category: d.category, file: f.file_name } });
        ticked.push({ recipient: r.recipient, key: d.key, title: d.title, category: d.category });
      }
    }
  }
  return ticked;
}

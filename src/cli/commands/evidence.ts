import type { Actor, App } from '../../app.js';
import { computeChecklist, reviewDocument, type ChecklistView } from '../../checklists/checklist.js';
import { requestMissing, type ChecklistRequest } from '../../checklists/request.js';
import { listDue, sendDigest, sendReminders, timeAgainstPromise, type DigestOutcome, type DueItem, type PromiseKept, type ReminderOutcome } from '../../deadlines/due.js';
import { localDay } from '../../deadlines/calendar.js';
import { listEvidence, scanAllEvidence, type EvidenceMatch } from '../../evidence/reuse.js';
import { DossierError } from '../../errors.js';
import { getRecord } from '../../records/records.js';
import { formatTable } from '../output.js';

// Issue 17's commands: checklist, doc accept|reject, evidence, due.

export const checklistCmd = (app: App, ref: string, o: { recipient?: string | undefined }) => computeChecklist(app, ref, { recipient: o.recipient });

const STATE: Record<string, string> = { present: 'OK', missing: 'MISSING', expired: 'EXPIRED', rejected: 'REJECTED' };

export function renderChecklist(v: ChecklistView): string {
  if (!v.recipients.length) return `${v.ref}: no recipient of this record has a checklist in its package profile.`;
  const parts: string[] = [];
  for (const r of v.recipients) {
    parts.push(`${r.recipient} — ${r.name}: ${r.complete ? 'complete' : 'NOT complete'}`);
    parts.push(
      formatTable(
        ['item', 'state', 'have', 'files'],
        [
          ...r.documents.map((d) => [
            `${d.title}${d.maxAgeDays ? ` (≤ ${d.maxAgeDays} d)` : ''}`,
            STATE[d.state] ?? d.state,
            `${d.have}/${d.min}`,
            d.files.map((f) => `#${f.attachment} ${f.file} ${f.review}${f.reason ? ` (${f.reason})` : ''}${f.expired ? ` dated ${f.dated}, too old` : ''}`).join('; ') || '—',
          ]),
          ...r.fields.map((f) => [`field ${f.field}`, f.present ? 'OK' : 'MISSING', '', f.label]),
        ],
      ),
    );
    parts.push('');
  }
  return parts.join('\n').trimEnd();
}

export const docReview = (app: App, actor: Actor, id: string, decision: 'accepted' | 'rejected', o: { reason?: string; dated?: string; as?: string }) =>
  reviewDocument(app, actor, id, { decision, reason: o.reason, dated: o.dated, as: o.as });

export const renderReview = (r: Awaited<ReturnType<typeof reviewDocument>>) =>
  `${r.ref}: #${r.attachment} ${r.file} ${r.state}${r.reason ? ` — ${r.reason}` : ''}${r.dated ? `, dated ${r.dated}` : ''}${r.countsAs ? `, counts as ${r.countsAs}` : ''}`;

export const checklistRequestCmd = (app: App, actor: Actor, ref: string, o: { to: string; recipient?: string; dryRun?: boolean }) => requestMissing(app, actor, ref, o);

export const renderRequest = (r: ChecklistRequest) =>
  `${r.outbox ? `Request #${r.outbox} queued` : 'Would send'} to ${r.to} (${r.addresses.join(', ')}) for ${r.ref}:\n${r.lines.map((l) => '  ' + l).join('\n')}`;

export async function evidenceCmd(app: App, o: { ref?: string }): Promise<EvidenceMatch[]> {
  return listEvidence(app.db, o.ref ? { recordId: (await getRecord(app.db, o.ref)).id } : {});
}

export function renderEvidence(rows: EvidenceMatch[]): string {
  if (!rows.length) return 'No reused evidence found.';
  return formatTable(
    ['#', 'record', 'file', 'record', 'file', 'how', 'similarity'],
    rows.map((m) => [m.id, m.a.ref, `#${m.a.attachment} ${m.a.file}`, m.b.ref, `#${m.b.attachment} ${m.b.file}`, m.method === 'sha256' ? 'same file' : 'similar photo', `${Math.round(m.similarity * 100)}%`]),
  );
}

export const evidenceScanCmd = (app: App, actor: Actor) => scanAllEvidence(app.db, app.blobs, actor);
export const renderScan = (r: { checked: number; found: EvidenceMatch[] }) => `${r.checked} attachments checked; ${r.found.length} new pair(s).${r.found.length ? '\n' + renderEvidence(r.found) : ''}`;

const at = (tz: string, d: Date | string | null) => {
  if (!d) return '—';
  const t = new Date(d);
  return `${localDay(t, tz).day} ${t.toLocaleTimeString('ru-RU', { timeZone: tz, hour: '2-digit', minute: '2-digit' })}`;
};

export interface DueView { timeZone: string; now: Date; items: DueItem[]; summary?: PromiseKept[] }

export async function dueCmd(app: App, o: { all?: boolean; at?: string; summary?: boolean }): Promise<DueView> {
  let now = new Date();
  if (o.at) {
    now = new Date(o.at);
    if (Number.isNaN(now.getTime())) throw new DossierError('USAGE', `"${o.at}" is not a time.`, { hint: 'Give an ISO time, e.g. 2026-12-07T09:00:00+03:00.' });
  }
  if (o.summary) return { timeZone: app.config.deadlines.timeZone, now, items: [], summary: await timeAgainstPromise(app, { now }) };
  return { timeZone: app.config.deadlines.timeZone, now, items: await listDue(app, { all: o.all, now }) };
}

export function renderDue(v: DueView): string {
  if (v.summary) {
    if (!v.summary.length) return 'No package has been sent to a counterparty with a promised answer time.';
    return formatTable(
      ['type', 'party', 'step', 'promised', 'answered', 'on time', 'median wd', 'waiting', 'overdue'],
      v.summary.map((p) => [p.type, p.party, p.step, `${p.promised} d`, p.answered, p.onTime, p.medianWorkingDays ?? '—', p.waiting, p.overdue]),
    );
  }
  if (!v.items.length) return 'Nothing overdue or due soon.';
  return formatTable(
    ['record', 'party', 'step', 'promised', 'sent', 'due', 'answered', 'state'],
    v.items.map((i) => [i.ref, i.party, i.step, `${i.days} ${i.count} d`, at(v.timeZone, i.sentAt), at(v.timeZone, i.dueAt), at(v.timeZone, i.answeredAt), i.state === 'overdue' ? `OVERDUE ${i.workingDays} wd` : i.state.replace('_', ' ')]),
  );
}

export const remindCmd = (app: App, actor: Actor): Promise<ReminderOutcome[]> => sendReminders(app, actor);
export const renderRemind = (r: ReminderOutcome[]) => (r.length ? r.map((x) => `${x.ref} ${x.party} (${x.step}): ${x.outbox ? `reminder #${x.outbox} queued` : `skipped — ${x.skipped}`}`).join('\n') : 'Nobody to remind.');
export const digestCmd = (app: App, actor: Actor): Promise<DigestOutcome> => sendDigest(app, actor);
export const renderDigest = (r: DigestOutcome) => (r.outbox ? `Digest #${r.outbox} queued: ${r.overdue} overdue, ${r.dueSoon} due soon.` : `No digest: ${r.skipped}.`);

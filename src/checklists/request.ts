import type { Actor, App } from '../app.js';
import { withTransaction } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { queueMail } from '../db/queues.js';
import { enqueueMail } from '../outbound/outbox.js';
import { tokenSecret } from '../outbound/settings.js';
import { issueReplyToken, replyAddress, subjectTag } from '../outbound/tokens.js';
import { recordEvent } from '../records/events.js';
import { recordParties } from '../records/parties.js';
import { getRecord } from '../records/records.js';
import { computeChecklist, missingLines } from './checklist.js';

// `dossier checklist request <ref> --to client|<party>`: one email listing what the recipients'
// checklists still miss, with the party's reply token in the subject and Reply-To, so that the files
// it sends back land on this record (and tick the items, see onDocumentArrived).

export interface ChecklistRequest { ref: string; to: string; addresses: string[]; lines: string[]; outbox: number | null }

export async function requestMissing(app: App, actor: Actor, ref: string, opts: { to: string; recipient?: string | undefined; dryRun?: boolean | undefined }): Promise<ChecklistRequest> {
  const record = await getRecord(app.db, ref);
  const parties = await recordParties(app.db, record.id);
  const party = opts.to === 'client' ? parties.find((p) => p.role === 'client') : parties.find((p) => p.key === opts.to);
  if (!party) {
    throw new DossierError('PARTY_NOT_FOUND', opts.to === 'client' ? `${record.ref} has no client linked.` : `${opts.to} is not linked to ${record.ref}.`, {
      hint: `Linked: ${parties.map((p) => `${p.key} (${p.role})`).join(', ') || 'nobody'}; dossier record link <ref> <party> --role client.`,
    });
  }
  if (!party.emails.length) throw new DossierError('PARTY_INVALID', `${party.key} has no email address.`, { hint: 'Add one with party import --update.' });
  const view = await computeChecklist(app, record.ref, { recipient: opts.recipient });
  const lines = view.recipients.filter((r) => !r.complete).flatMap((r) => [`Для ${r.name}:`, ...missingLines(r).map((l) => `  — ${l}`)]);
  if (!lines.length) {
    throw new DossierError('USAGE', `Nothing is missing for ${record.ref}: every checklist is complete, so no request was sent.`, { hint: `dossier checklist ${record.ref}` });
  }
  const result: ChecklistRequest = { ref: record.ref, to: party.key, addresses: party.emails, lines, outbox: null };
  if (opts.dryRun) return result;
  const token = await issueReplyToken(app.db, await tokenSecret(app), { recordId: record.id, partyId: party.id, ref: record.ref, partyKey: party.key });
  const text = [
    'Здравствуйте!',
    '',
    `Для рассмотрения заявки ${record.ref}${record.title ? ` («${record.title}»)` : ''} не хватает следующих документов и сведений:`,
    '',
    ...lines,
    '',
    'Пожалуйста, ответьте на это письмо, приложив файлы: они попадут в дело автоматически.',
    '',
    '--',
    'Dossier',
  ].join('\n');
  const row = await withTransaction(app.db, async (c) => {
    const row = await enqueueMail(app, c, actor, {
      recordId: record.id,
      partyId: party.id,
      kind: 'notification',
      to: party.emails,
      replyTo: replyAddress(app.config.mail.intakeAddress, record.ref, token),
      subject: `${subjectTag(record.ref, token)} Недостающие документы по заявке ${record.ref}`,
      text,
      automatic: false,
    });
    await recordEvent(c, actor, { recordId: record.id, partyId: party.id, kind: 'checklist_requested', field: `outbox:${row.id}`, newValue: { to: party.key, outbox: row.id, missing: lines } });
    return row;
  });
  // One INSERT of the mail job (no pg-boss started here); a row without a job is queued by the worker's sweep.
  await queueMail(app.db, [row.id]);
  result.outbox = row.id;
  return result;
}

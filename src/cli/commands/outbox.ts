import type { Actor, App } from '../../app.js';
import { DossierError } from '../../errors.js';
import { cancelOutbox, listOutbox, outboxMessage, retryOutbox, type OutboxRow } from '../../outbound/outbox.js';
import { checkPage } from '../../records/records.js';
import { fit, formatTable, formatTime } from '../output.js';

// `outbox list | show | retry | cancel`: every email Dossier sends, newest first, a page at a time.

const messageNumber = (id: string): number => {
  const n = Number(id.replace(/^#/, ''));
  if (!Number.isInteger(n) || n <= 0) throw new DossierError('USAGE', `"${id}" is not an outbox message number.`, { hint: 'See `dossier outbox list`.' });
  return n;
};

export interface OutboxListOptions { status?: string | undefined; ref?: string | undefined; limit?: string | undefined; offset?: string | undefined; before?: string | undefined }

export async function outboxList(app: App, o: OutboxListOptions) {
  const page = checkPage({ limit: o.limit, offset: o.offset, before: o.before });
  return listOutbox(app, { status: o.status, ref: o.ref?.trim().toUpperCase(), ...page, before: o.before === undefined ? undefined : messageNumber(o.before) });
}

export const renderOutbox = (rows: (OutboxRow & { ref: string | null })[], limit?: string) =>
  rows.length
    ? formatTable(
        ['#', 'record', 'to', 'subject', 'status', 'tries', 'updated'],
        rows.map((r) => [r.id, r.ref, fit(r.to_addresses.join(', '), 22), fit(r.subject, 24), r.status + (r.status === 'queued' && r.next_attempt_at ? ` (next ${formatTime(r.next_attempt_at).slice(11)})` : ''), r.attempts, formatTime(r.updated_at).slice(5)]),
        { shrink: [2, 3] },
      ) +
      (rows.some((r) => r.last_response && r.status !== 'sent') ? '\n' + rows.filter((r) => r.last_response && r.status !== 'sent').map((r) => `#${r.id}: ${fit(r.last_response!, 72)}`).join('\n') : '') +
      (rows.length >= Number(limit ?? 50) ? `\nNewest first. Older ones: --before ${rows[rows.length - 1]!.id}.` : '')
    : 'No emails here.';

/** The email as it goes out (or went out): the .eml text; with --json, its row and that text. */
export async function outboxShow(app: App, id: string) {
  const { row, eml } = await outboxMessage(app, messageNumber(id));
  return { ...row, eml: eml.toString('utf8') };
}

export const renderOutboxShow = (r: { eml: string }) => r.eml.replace(/\r\n/g, '\n').trimEnd();

export async function outboxRetry(app: App, actor: Actor, id: string) {
  return retryOutbox(app, actor, messageNumber(id));
}

export async function outboxCancel(app: App, actor: Actor, id: string, o: { reason?: string | undefined }) {
  return cancelOutbox(app, actor, messageNumber(id), o.reason);
}

export const renderCancel = (r: OutboxRow) => `Outbox #${r.id} to ${r.to_addresses.join(', ')} is cancelled; it will not be sent.`;

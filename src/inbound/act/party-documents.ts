import { recordEvent } from '../../records/events.js';
import type { Intent } from '../../routing/intent.js';
import { cut } from '../../text/clean.js';
import type { ActContext, Decision } from './context.js';
import { attachDocuments, documentsArrived } from './documents.js';

// Documents and a note from an outside party with a valid token (a lawyer replying to our package):
// added to the record; the sender gets an acknowledgement, the record's participants a notice.
export async function addPartyDocuments(x: ActContext, i: Extract<Intent, { kind: 'party-documents' }>): Promise<Decision> {
  const { record, party, m } = { ...i, m: x.m };
  const base = { recordId: record.id, partyId: party.id, ref: record.ref };
  await x.c.query('SELECT 1 FROM records WHERE id = $1 FOR UPDATE', [record.id]);
  const docs = [...m.attachments.filter((a) => !a.inline), ...(m.forwarded?.attachments ?? [])];
  const added = await attachDocuments(x, record.id, docs, x.app.config.intake.incomingCategory);
  const note = m.ownText.trim();
  if (note) await recordEvent(x.c, x.actor, { recordId: record.id, partyId: party.id, kind: 'note_added', field: 'note', newValue: cut(note, 10_000), details: { from: m.from?.address, messageId: m.messageId, journal: x.row.id } });
  if (!docs.length && !note && !m.dropped.length) return { outcome: 'ignored', reason: `message from ${party.key} with no documents and no text`, ...base };
  const files = docs.map((a) => a.fileName);
  await x.notify.acknowledgeDocuments(record, party, files, note);
  await x.notify.noticeParticipants(record, party, files, note);
  const arrived = await documentsArrived(x, record, added); // issue 17: checklist ticks, reused evidence, staff told
  const again = added.alreadyThere.length ? ` (${added.alreadyThere.length} of them already there)` : '';
  const ticks = arrived.ticked.length ? `; ticked ${arrived.ticked.map((t) => `${t.recipient}:${t.key}`).join(', ')}` : '';
  const reused = arrived.reused.length ? `; ${arrived.reused.length} file(s) also on another record` : '';
  return { outcome: 'applied', reason: `${docs.length} document(s)${again}${note ? ' and a note' : ''} from ${party.key} added to ${record.ref}${ticks}${reused}`, ...base };
}

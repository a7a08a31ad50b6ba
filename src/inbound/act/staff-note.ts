import { recordEvent } from '../../records/events.js';
import type { Intent } from '../../routing/intent.js';
import { cut } from '../../text/clean.js';
import type { ActContext, Decision } from './context.js';
import { attachDocuments } from './documents.js';

// Staff mail about a record without a decision in it: its documents and text are added.
export async function addStaffNote(x: ActContext, i: Extract<Intent, { kind: 'staff-note' }>): Promise<Decision> {
  const { record } = i;
  const base = { recordId: record.id, ref: record.ref };
  const docs = x.m.attachments.filter((a) => !a.inline);
  const note = x.m.ownText.trim();
  if (!docs.length && !note && !x.m.dropped.length) return { outcome: 'ignored', reason: 'staff message with nothing to add', ...base };
  const added = await attachDocuments(x, record.id, docs, x.app.config.intake.incomingCategory);
  if (note) await recordEvent(x.c, x.actor, { recordId: record.id, kind: 'note_added', field: 'note', newValue: cut(note, 10_000), details: { from: x.m.from?.address, messageId: x.m.messageId } });
  await x.notify.tellDropped(record);
  const again = added.alreadyThere.length ? ` (${added.alreadyThere.length} already there)` : '';
  return { outcome: 'applied', reason: `staff note${docs.length ? ` and ${docs.length} document(s)${again}` : ''} added to ${record.ref}`, ...base };
}

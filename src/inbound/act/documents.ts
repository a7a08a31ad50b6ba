import { createHash } from 'node:crypto';
import { onDocumentArrived, type TickedItem } from '../../checklists/checklist.js';
import { tellStaffArrived } from '../../checklists/arrived.js';
import { flagReusedEvidence, type EvidenceMatch } from '../../evidence/reuse.js';
import { attachStoredIn, type AttachResult } from '../../records/attachments.js';
import { sniffBuffer } from '../../storage/sniff.js';
import type { IncomingAttachment } from '../types.js';
import type { ActContext } from './context.js';

// Documents that came by mail, attached through the records module (its same-file-once rule and
// updated_at). Bytes already in the blob store (the same scan sent again) are not written again.
export async function attachDocuments(x: ActContext, recordId: number, docs: IncomingAttachment[], category: string): Promise<AttachResult> {
  const files = [];
  for (const a of docs) {
    const sha256 = createHash('sha256').update(a.content).digest('hex');
    if (!(await x.app.blobs.has(sha256))) await x.app.blobs.put(a.content);
    const contentType = a.contentType || (await sniffBuffer(a.content.subarray(0, 4100)));
    files.push({ fileName: a.fileName, contentType, size: a.content.length, sha256, details: { originalName: a.originalName, messageId: x.m.messageId } });
  }
  return attachStoredIn(x.c, x.actor, recordId, files, category);
}

/**
 * Issue 17: files a reply brought onto a record tick the checklist items they match and are checked
 * against the other records' files (the same file, a near-identical photo); staff are told of both.
 * A photo that cannot be decoded or hashed never undoes the message (its own savepoint).
 */
export async function documentsArrived(x: ActContext, record: { id: number; ref: string }, added: AttachResult): Promise<{ ticked: TickedItem[]; reused: EvidenceMatch[] }> {
  if (!added.attached.length) return { ticked: [], reused: [] };
  let reused: EvidenceMatch[] = [];
  await x.c.query('SAVEPOINT evidence');
  try {
    reused = await flagReusedEvidence(x.c, x.app.blobs, x.actor, added.attached);
  } catch (err) {
    await x.c.query('ROLLBACK TO SAVEPOINT evidence');
    x.m.warnings.push(`reused evidence not checked: ${(err as Error).message}`);
  }
  let ticked: TickedItem[] = [];
  await x.c.query('SAVEPOINT checklist');
  try {
    ticked = await onDocumentArrived(x.app, x.c, x.actor, { recordId: record.id, attachmentIds: added.attached.map((a) => a.id) });
  } catch (err) {
    // A profile that cannot be read is said in the journal; the documents stay on the record.
    await x.c.query('ROLLBACK TO SAVEPOINT checklist');
    x.m.warnings.push(`checklists not ticked: ${(err as Error).message}`);
  }
  const row = await tellStaffArrived(x.app, x.c, x.actor, { recordId: record.id, ref: record.ref, from: x.m.from?.address ?? '?', ticked, reused });
  if (row) x.notify.outbox.push(row);
  return { ticked, reused };
}

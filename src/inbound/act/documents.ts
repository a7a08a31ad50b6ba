import { createHash } from 'node:crypto';
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

import type { IncomingAttachment } from '../types.js';
import { safeFileName, uniqueNames } from '../../packages/zip.js';
import { sniffBuffer } from '../../storage/sniff.js';
import { isBodyText, SIGNATURE_TYPES } from './body.js';
import { drop, sizeText, warn, type Ctx, type ParseLimits } from './context.js';
import { isOutlookMsg, OUTLOOK_MSG_TYPE } from './envelope.js';
import { decodeWords, firstHeader } from './headers.js';
import { transferDecode, walk, type Part } from './mime.js';

// Files in a message: which parts are documents, their names made safe and unique, their real type
// from the bytes, and the size and count limits.

export const EXTENSIONS: Record<string, string> = {
  'application/pdf': 'pdf', 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif', 'image/tiff': 'tif', 'image/webp': 'webp',
  'image/heic': 'heic', 'image/bmp': 'bmp', 'text/plain': 'txt', 'text/html': 'html', 'text/calendar': 'ics', 'message/rfc822': 'eml',
  'application/zip': 'zip', 'application/msword': 'doc', 'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx', 'application/vnd.ms-outlook': 'msg',
};

export interface Candidate { part: Part; content: Buffer; originalName: string | null; inline: boolean; owner: 'top' | 'forwarded'; broken: boolean }

/** Leaf parts that are files: everything that is not body text, skipping signatures and returned bounce content. */
export function collectCandidates(root: Part, owner: Candidate['owner'], skip: Set<Part>, ctx: Ctx, out: Candidate[]): void {
  walk(root, (p, parent) => {
    if (skip.has(p)) return false;
    if (p.type.startsWith('multipart/')) return;
    if (p.type === 'message/rfc822' || p.type === 'message/global') {
      // The attached message itself is kept too (with its headers it is the evidence), its own
      // files only through `forwarded` (when it is the forwarded one) — never walked here.
      out.push({ part: p, content: transferDecode(p, ctx).bytes, originalName: p.fileName, inline: false, owner, broken: false });
      return false;
    }
    if (isBodyText(p) || p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status') return;
    if (parent?.type === 'multipart/signed' && SIGNATURE_TYPES.has(p.type)) return;
    const { bytes, broken } = transferDecode(p, ctx);
    const cid = firstHeader(p.headers, 'content-id');
    const inline =
      (p.disposition === 'inline' && !!cid) ||
      (!p.disposition && !!cid && parent?.type === 'multipart/related') ||
      p.type === 'text/calendar';
    out.push({ part: p, content: bytes, originalName: p.fileName, inline, owner, broken });
  });
}

export function fallbackName(c: Candidate, sniffed: string): string {
  if (c.part.message) {
    const subject = decodeWords(firstHeader(c.part.message.headers, 'subject') ?? '').trim();
    return `${subject || 'message'}.eml`;
  }
  const ext = EXTENSIONS[c.part.type] ?? EXTENSIONS[sniffed];
  return ext ? `file.${ext}` : 'file';
}


/** The name a sender would recognise a file by (its own name, else its type). */
const dropName = (c: Candidate) => c.originalName ?? `(${c.part.type})`;

export async function buildAttachments(candidates: Candidate[], limits: ParseLimits, ctx: Ctx): Promise<{ top: IncomingAttachment[]; forwarded: IncomingAttachment[] }> {
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const label = c.originalName ? `"${c.originalName}"` : `An unnamed ${c.part.type} attachment`;
    if (c.broken && c.part.cut) {
      warn(ctx, `${label} is cut off (the message is truncated); not kept.`);
      if (!c.inline) drop(ctx, dropName(c), 'cut off: the message ends inside it', 'cut');
      continue;
    }
    if (c.part.cut) warn(ctx, `${label} may be incomplete: the message ends inside it.`);
    else if (c.broken) warn(ctx, `${label} has malformed base64; its content may be damaged.`);
    if (c.content.length > limits.maxAttachmentBytes) {
      warn(ctx, `${label}: ${sizeText(c.content.length)} is over the ${sizeText(limits.maxAttachmentBytes)} limit for one file; not kept.`);
      if (!c.inline) drop(ctx, dropName(c), `${sizeText(c.content.length)}, over the ${sizeText(limits.maxAttachmentBytes)} limit for one file`, 'size', { size: c.content.length, limit: limits.maxAttachmentBytes });
      continue;
    }
    kept.push(c);
  }
  // Documents before signature images when the count limit bites.
  const byPriority = [...kept.filter((c) => !c.inline), ...kept.filter((c) => c.inline)];
  const allowed = new Set(byPriority.slice(0, limits.maxAttachments));
  for (const c of byPriority.slice(limits.maxAttachments)) {
    warn(ctx, `"${c.originalName ?? c.part.type}": over the limit of ${limits.maxAttachments} attachments per message; not kept.`);
    if (!c.inline) drop(ctx, dropName(c), `over the limit of ${limits.maxAttachments} files per message`, 'count', { limit: limits.maxAttachments });
  }
  const chosen = kept.filter((c) => allowed.has(c));
  const sniffed = await Promise.all(chosen.map((c) => sniffBuffer(c.content)));
  // Unique across the message and its forwarded part: they may end up in one folder.
  const names = uniqueNames(chosen.map((c, i) => safeFileName(c.originalName ?? fallbackName(c, sniffed[i]!))));
  const result = { top: [] as IncomingAttachment[], forwarded: [] as IncomingAttachment[] };
  chosen.forEach((c, i) => {
    let contentType = sniffed[i]!;
    // An attached message is text to file-type; it parsed as a message, so say so.
    if (c.part.message && contentType === 'text/plain') contentType = 'message/rfc822';
    // file-type calls every OLE container "application/x-cfb"; an Outlook message is worth naming.
    if (isOutlookMsg(c.content)) {
      contentType = OUTLOOK_MSG_TYPE;
      warn(ctx, `"${names[i]}" is an Outlook message (.msg): it is kept as a file, but its sender, text and attachments are not read; forward it as an email or save it as .eml to have it read.`);
    }
    result[c.owner].push({
      fileName: names[i]!, originalName: c.originalName, contentType, declaredType: c.part.type,
      size: c.content.length, content: c.content, inline: c.inline,
    });
  });
  return result;
}

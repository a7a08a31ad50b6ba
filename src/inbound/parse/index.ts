import { LOOP_HEADER } from '../../outbound/mime.js';
import type { ForwardedMessage, IncomingAttachment, ParsedMessage } from '../types.js';
import { buildAttachments, collectCandidates, type Candidate } from './attachments.js';
import { classifyAuto } from './auto-replies.js';
import { bodyText, isBodyText } from './body.js';
import { EMPTY_BOUNCE, readBounce } from './bounces.js';
import { MAX_PARTS, sizeText, warn, type Ctx, type DroppedPart, type ParseLimits } from './context.js';
import { dateOffset, parseHeaderDate } from './dates.js';
import { splitText } from './forwards.js';
import { isOutlookMsg, normalizeStart, OUTLOOK_MSG_TYPE } from './envelope.js';
import { decodeWords, firstHeader, headerMap, messageIds, parseAddressList } from './headers.js';
import { parseEntity, walk, type Part } from './mime.js';
import { stripSubjectPrefixes } from './subjects.js';

export type { ParseLimits } from './context.js';
export { classifyAuto } from './auto-replies.js';
export { stripSubjectPrefixes } from './subjects.js';

// Incoming mail → ParsedMessage. One module per concern in this folder; this one puts them together.
//
// Why our own MIME splitter and not mailparser: mailparser (3.9) rejects the whole message when a
// header is over its limit ("Max header size for a MIME node exceeded") or a multipart nests too
// deep ("Max allowed child nodes exceeded"), so a hostile or broken message would give nothing at
// all. It also decodes text with the declared charset and keeps no raw bytes, so a missing or
// wrong charset cannot be repaired afterwards, and its HTML-to-text wraps at 80 columns and
// upper-cases headings. MIME itself is simple enough: here the raw Buffer is split into a tree of
// parts synchronously, with hard caps (depth, part count, header sizes), every part keeping its
// raw bytes; decoding happens afterwards, part by part, where a charset can be second-guessed.
// Text decoding uses Node's TextDecoder (WHATWG labels, full ICU): no iconv-lite import needed.

function forwardedFromRfc822(msg: Part, ctx: Ctx): ForwardedMessage {
  const from = parseAddressList(firstHeader(msg.headers, 'from'))[0] ?? null;
  const subject = firstHeader(msg.headers, 'subject');
  return {
    from,
    to: parseAddressList(firstHeader(msg.headers, 'to')),
    date: parseHeaderDate(firstHeader(msg.headers, 'date')),
    dateOffset: dateOffset(firstHeader(msg.headers, 'date')),
    subject: subject === null ? null : decodeWords(subject).replace(/\s+/g, ' ').trim(),
    text: bodyText(msg, ctx).text.replace(/\n{3,}/g, '\n\n').trim(),
    kind: 'rfc822',
    attachments: [],
  };
}

/** Every part not taken: files over a limit, and the parts beyond the part cap (counted, unnamed). */
function droppedParts(ctx: Ctx): DroppedPart[] {
  const out = [...(ctx.dropped ?? [])];
  if (ctx.partsSkipped) out.push({ file: `${ctx.partsSkipped} more MIME part(s)`, reason: `over the ${MAX_PARTS} parts a message may have; not read`, why: 'parts', limit: MAX_PARTS });
  return out;
}

function checkLimits(limits: ParseLimits): void {
  for (const key of ['maxAttachmentBytes', 'maxMessageBytes', 'maxAttachments'] as const) {
    const v = limits?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`parseMessage: limits.${key} must be a non-negative number, not ${String(v)}`);
  }
}

export async function parseMessage(raw: Buffer, limits: ParseLimits): Promise<ParsedMessage> {
  if (!Buffer.isBuffer(raw)) throw new TypeError('parseMessage: raw must be a Buffer');
  checkLimits(limits);
  const ctx: Ctx = { warnings: [], parts: 0, depthWarned: false, partsWarned: false };
  const headersOnly = raw.length > limits.maxMessageBytes;
  if (headersOnly) warn(ctx, `The message is ${sizeText(raw.length)}, over the ${sizeText(limits.maxMessageBytes)} limit: only its headers were read.`);

  // An Outlook .msg file is no MIME at all: say what it is instead of reading binary as headers.
  if (isOutlookMsg(raw)) return outlookMessage(ctx);
  const root = parseEntity(normalizeStart(raw, (note) => warn(ctx, note)), 0, false, ctx, 'text/plain', headersOnly);
  const headers = headerMap(root.headers);
  const get = (name: string): string | null => firstHeader(root.headers, name);
  const all = (name: string): string[] => headers.get(name) ?? [];

  const notes: string[] = [];
  const subject = decodeWords(get('subject') ?? '', notes).replace(/\s+/g, ' ').trim();
  for (const note of notes) warn(ctx, `Subject: ${note}.`);
  const fromAddresses = all('from').flatMap((v) => parseAddressList(v));
  const from = fromAddresses[0] ?? null;
  if (all('from').length > 1) warn(ctx, `The message has ${all('from').length} From: headers (${fromAddresses.map((a) => a.address || a.name).join(', ')}); only one is allowed, so the sender is in doubt.`);
  const auto = classifyAuto(headers, subject, from?.address ?? null, get('content-type') ?? '');

  const deliveredTo: string[] = [];
  for (const name of ['delivered-to', 'x-original-to', 'x-delivered-to', 'envelope-to']) {
    for (const v of all(name)) {
      for (const a of v.split(/[,\s]+/)) {
        const address = a.replace(/^<|>$/g, '').trim();
        if (address.includes('@') && !deliveredTo.includes(address)) deliveredTo.push(address);
      }
    }
  }

  const text = headersOnly ? '' : bodyText(root, ctx).text.replace(/\n{3,}/g, '\n\n').trim();

  const split = splitText(text, subject);
  let forwarded: ForwardedMessage | null = null;
  let attachments: IncomingAttachment[] = [];
  let bounce: ParsedMessage['bounce'] = null;
  if (auto === 'bounce') {
    // What a bounce carries (its report, our returned message and files) is ours, not a forward
    // or documents: only the delivery details are read.
    bounce = headersOnly ? { ...EMPTY_BOUNCE, deliveries: [], recipients: [] } : readBounce(root, text, ctx);
  } else if (!headersOnly) {
    // An attached message/rfc822 (Outlook "forward as attachment") wins over an inline forward.
    // The parts of a report (a read receipt's) are not documents either.
    const found: { rfc822: Part | null } = { rfc822: null };
    const reportParts = new Set<Part>();
    walk(root, (p) => {
      if (reportParts.has(p)) return false;
      if (p.type === 'multipart/report') for (const c of p.children) if (!isBodyText(c) && !c.type.startsWith('multipart/')) reportParts.add(c);
      if (!found.rfc822 && (p.type === 'message/rfc822' || p.type === 'message/global') && p.message) found.rfc822 = p;
    });
    const candidates: Candidate[] = [];
    collectCandidates(root, 'top', reportParts, ctx, candidates);
    if (found.rfc822?.message) collectCandidates(found.rfc822.message, 'forwarded', new Set(), ctx, candidates);
    const built = await buildAttachments(candidates, limits, ctx);
    attachments = built.top;
    forwarded = found.rfc822?.message ? forwardedFromRfc822(found.rfc822.message, ctx) : split.forwarded;
    if (forwarded) forwarded.attachments = built.forwarded;
  }

  return {
    messageId: messageIds(get('message-id'))[0] ?? null,
    inReplyTo: messageIds(get('in-reply-to'))[0] ?? null,
    references: messageIds(all('references').join(' ')).slice(0, 500),
    from,
    fromCount: all('from').length,
    fromAddresses,
    outlookMsg: attachments.some((a) => a.contentType === OUTLOOK_MSG_TYPE) || forwarded?.attachments.some((a) => a.contentType === OUTLOOK_MSG_TYPE) ? 'attachment' : null,
    replyTo: parseAddressList(get('reply-to')),
    to: all('to').flatMap((v) => parseAddressList(v)),
    cc: all('cc').flatMap((v) => parseAddressList(v)),
    deliveredTo,
    subject,
    subjectCore: stripSubjectPrefixes(subject),
    date: parseHeaderDate(get('date')),
    dateOffset: dateOffset(get('date')),
    ownText: split.own,
    text,
    forwarded,
    attachments,
    auto,
    bounce,
    ours: headers.has(LOOP_HEADER.toLowerCase()),
    tooLarge: headersOnly ? { size: raw.length, limit: limits.maxMessageBytes } : null,
    dropped: droppedParts(ctx),
    authResults: all('authentication-results').map((v) => v.replace(/\s+/g, ' ').trim()),
    warnings: ctx.warnings,
    headers,
  };
}

/** What a bare .msg file gives: no headers to read, one warning that says what it is and what to do. */
function outlookMessage(ctx: Ctx): ParsedMessage {
  warn(ctx, 'This is an Outlook .msg file (a binary OLE container), not an email in MIME form: its sender, subject and files cannot be read. Save or forward it from Outlook as an .eml file (or forward it as an attachment).');
  return {
    messageId: null, inReplyTo: null, references: [], from: null, fromCount: 0, fromAddresses: [], outlookMsg: 'message',
    replyTo: [], to: [], cc: [], deliveredTo: [], subject: '', subjectCore: '', date: null, dateOffset: null, ownText: '', text: '',
    forwarded: null, attachments: [], auto: null, bounce: null, ours: false, tooLarge: null, dropped: [], authResults: [], warnings: ctx.warnings,
    headers: new Map(),
  };
}

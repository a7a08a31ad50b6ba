import type { BounceDelivery, BounceReport, DeliveryAction } from '../types.js';
import { decodeBytes } from './charsets.js';
import { MAX_DEPTH, type Ctx } from './context.js';
import { decodeWords, firstHeader, messageIds, parseAddressList, type Header } from './headers.js';
import { parseEntity, transferDecode, walk, type Part } from './mime.js';

// Delivery reports: RFC 3464 message/delivery-status parts read per recipient (failed, delayed,
// delivered…), and the human-readable reports of servers that send none (exim, qmail, Exchange
// NDRs in Russian, mail.ru): the failed recipient found in the text, our message found by the
// returned copy's Message-ID, the bounce's own References/In-Reply-To, or the returned subject
// (which carries our "[REF token]" tag).

/** Header groups of a message/delivery-status body, separated by empty lines. */
export function statusGroups(text: string): Map<string, string>[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((group) => {
      const map = new Map<string, string>();
      let last: string | null = null;
      for (const line of group.split('\n')) {
        if (/^[ \t]/.test(line) && last) map.set(last, `${map.get(last)} ${line.trim()}`);
        else {
          const m = /^([!-9;-~]+)\s*:\s*(.*)$/.exec(line);
          if (m) {
            last = m[1]!.toLowerCase();
            if (!map.has(last)) map.set(last, m[2]!.trim());
          }
        }
      }
      return map;
    })
    .filter((m) => m.size > 0);
}

function stripType(v: string | undefined): string {
  // "rfc822; ivanov@bank.ru", "smtp; 550 5.1.1 …"
  return (v ?? '').replace(/^[\w-]+\s*;\s*/, '').replace(/^<|>$/g, '').trim();
}

const STATUS_CODE = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/g;

/**
 * The most specific enhanced status code: a generic one in the Status field ("5.0.0", as Amazon SES
 * and some Exchange servers write) gives way to a specific one in the diagnostic ("550 5.7.1 …") of
 * the same class; a specific Status is kept as it is.
 */
export function specificStatus(status: string | null | undefined, diagnostic: string | null | undefined): string | null {
  const declared = status ? ([...status.matchAll(STATUS_CODE)][0]?.[0] ?? null) : null;
  if (declared && !/^\d\.0\.0$/.test(declared)) return declared;
  for (const m of (diagnostic ?? '').slice(0, 2000).matchAll(STATUS_CODE)) {
    if (m[0].endsWith('.0.0')) continue;
    if (!declared || m[1] === declared[0]) return m[0];
  }
  return declared ?? ([...(diagnostic ?? '').slice(0, 2000).matchAll(STATUS_CODE)][0]?.[0] ?? null);
}

function toAction(value: string | undefined): DeliveryAction {
  const v = (value ?? '').trim().toLowerCase();
  if (v.startsWith('delay')) return 'delayed';
  if (v.startsWith('deliver')) return 'delivered';
  if (v.startsWith('relay')) return 'relayed';
  if (v.startsWith('expand')) return 'expanded';
  return 'failed'; // "failed", a missing Action (old Exchange), or anything unknown
}

/** Builds the report from the deliveries: failed recipients, and the headline status and diagnostic. */
function summarise(deliveries: BounceDelivery[], originalMessageId: string | null, returnedSubject: string | null): BounceReport {
  const failed = deliveries.filter((d) => d.action === 'failed');
  const lead = failed[0] ?? deliveries[0] ?? null;
  return {
    originalMessageId,
    returnedSubject,
    recipients: [...new Set(failed.map((d) => d.address))],
    deliveries,
    status: lead?.status ?? null,
    diagnostic: lead?.diagnostic ?? null,
  };
}

/** The per-recipient groups of every delivery-status part, read whole. */
function dsnDeliveries(parts: Part[], ctx: Ctx): { deliveries: BounceDelivery[]; originalMessageId: string | null } {
  const deliveries: BounceDelivery[] = [];
  let originalMessageId: string | null = null;
  for (const part of parts) {
    for (const g of statusGroups(decodeBytes(transferDecode(part, ctx).bytes, 'utf-8').text)) {
      const id = g.get('original-message-id') ?? g.get('x-original-message-id');
      if (id && !originalMessageId) originalMessageId = messageIds(id)[0] ?? null;
      const address = stripType(g.get('final-recipient') ?? g.get('original-recipient'));
      if (!address) continue;
      const diagnostic = stripType(g.get('diagnostic-code')) || null;
      const d: BounceDelivery = { address, action: toAction(g.get('action')), status: specificStatus(g.get('status'), diagnostic), diagnostic };
      if (!deliveries.some((x) => x.address === d.address && x.action === d.action)) deliveries.push(d);
    }
  }
  return { deliveries, originalMessageId };
}

// Where the report ends and the copy of the returned message begins, in text-only reports.
const COPY_MARKER = /^[\s>_-]*(this is a copy|below this line|original message|returned message|the original message|original message headers|message headers follow|копия|исходное сообщение|заголовки исходного сообщения|текст исходного сообщения|received:|return-path:)/i;
const DELAYED = /warning only|not yet been delivered|has been delayed|delivery (is |has been )?delayed|delivery incomplete|will (retry|continue trying|keep trying|try again)|will be retried|still trying|пока не доставлено|доставка задерживается|задержан/i;
const DAEMON_ADDRESS = /^(mailer-daemon|mailerdaemon|postmaster|mail\.delivery\.system|mail-daemon|abuse|noreply|no-reply)@/i;
const DIAGNOSTIC_LINE = /\b[45]\d\d[ -]|\b[45]\.\d{1,3}\.\d{1,3}\b|said:|smtp error|user unknown|unknown user|no such user|does not exist|not found|mailbox (is )?(full|unavailable|disabled)|quota|rejected|returned|вернул|не существует|переполнен|не найден|заблокирован/i;
const ADDRESS = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;

/** The copy's headers as quoted in the text (Message-ID, Subject, To) when no returned part came with it. */
function quotedHeaders(lines: string[]): { messageId: string | null; subject: string | null; to: string[] } {
  const out = { messageId: null as string | null, subject: null as string | null, to: [] as string[] };
  for (let i = 0; i < lines.length && i < 400; i++) {
    const line = lines[i]!.replace(/^[\s>]*/, '').replace(/^(the subject of the message is|subject of the message|тема сообщения|тема)\s*:/i, 'Subject:');
    const m = /^(message-id|subject|to)\s*:\s*(.*)$/i.exec(line);
    if (!m) continue;
    let value = m[2]!;
    while (i + 1 < lines.length && /^[ \t]+\S/.test(lines[i + 1]!)) value += ` ${lines[++i]!.trim()}`; // folded
    const name = m[1]!.toLowerCase();
    if (name === 'message-id' && !out.messageId) out.messageId = messageIds(value)[0] ?? null;
    else if (name === 'subject' && out.subject === null) out.subject = decodeWords(value).replace(/\s+/g, ' ').trim();
    else if (name === 'to' && out.to.length === 0) out.to = parseAddressList(value).map((a) => a.address.toLowerCase());
  }
  return out;
}

/**
 * A report without a delivery-status part: the failed recipients are the addresses the report's
 * text names (not the daemon's, not ours), narrowed to the returned message's recipients when its
 * headers came back; each one's diagnostic is the first telling line after it.
 */
function textDeliveries(report: string[], subject: string, exclude: Set<string>, returnedTo: string[], failedHeader: string[]): BounceDelivery[] {
  const action: DeliveryAction = DELAYED.test(subject) || DELAYED.test(report.join('\n')) ? 'delayed' : 'failed';
  const found: { address: string; line: number }[] = [];
  for (const a of failedHeader) found.push({ address: a, line: report.findIndex((l) => l.toLowerCase().includes(a.toLowerCase())) });
  report.forEach((line, i) => {
    if (line.length > 1000) return;
    for (const m of line.matchAll(ADDRESS)) {
      const address = m[0].replace(/\.$/, '');
      const lower = address.toLowerCase();
      if (DAEMON_ADDRESS.test(lower) || exclude.has(lower) || found.some((f) => f.address.toLowerCase() === lower)) continue;
      found.push({ address, line: i });
    }
  });
  const narrowed = returnedTo.length ? found.filter((f) => returnedTo.includes(f.address.toLowerCase())) : [];
  const chosen = narrowed.length ? narrowed : found;
  const overall = report.find((l) => l.length < 1000 && DIAGNOSTIC_LINE.test(l))?.trim().slice(0, 500) ?? null;
  return chosen.map((f, k) => {
    const next = chosen[k + 1]?.line ?? report.length;
    const own = f.line >= 0 ? report.slice(f.line + 1, Math.max(f.line + 1, next)).find((l) => l.length < 1000 && DIAGNOSTIC_LINE.test(l))?.trim().slice(0, 500) : undefined;
    const diagnostic = own ?? overall;
    return { address: f.address, action, status: specificStatus(null, diagnostic ?? report.join('\n')), diagnostic };
  });
}

export function readBounce(root: Part, text: string, ctx: Ctx): BounceReport {
  const statusParts: Part[] = [];
  const found: { original: Part | null } = { original: null };
  walk(root, (p) => {
    if (p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status') statusParts.push(p);
    else if (!found.original && (p.type === 'message/rfc822' || p.type === 'message/global') && p.message) found.original = p.message;
    else if (!found.original && (p.type === 'text/rfc822-headers' || p.type === 'message/global-headers')) {
      found.original = parseEntity(transferDecode(p, ctx).bytes, MAX_DEPTH, false, ctx, 'text/plain', true);
    }
  });
  const original = found.original;
  const lines = text.split('\n');
  const copyAt = lines.findIndex((l) => COPY_MARKER.test(l));
  const report = copyAt >= 0 ? lines.slice(0, copyAt) : lines;
  // The copy's headers, else what the report itself quotes ("Subject: …", exim's "The subject of the message is: …").
  const copied = copyAt >= 0 ? quotedHeaders(lines.slice(copyAt)) : null;
  const inReport = quotedHeaders(report);
  const quoted = { messageId: copied?.messageId ?? inReport.messageId, subject: copied?.subject ?? inReport.subject, to: copied?.to.length ? copied.to : inReport.to };

  const returnedId = original ? (messageIds(firstHeader(original.headers, 'message-id'))[0] ?? null) : null;
  const returnedSubjectRaw = original ? firstHeader(original.headers, 'subject') : null;
  // Failing a copy, the report's own subject often is ours behind a prefix ("Undeliverable: [DL-… tok] …").
  const ownSubject = decodeWords(firstHeader(root.headers, 'subject') ?? '').replace(/\s+/g, ' ').trim();
  const prefixed = /^(undeliverable|undelivered|not delivered|delivery (?:failure|delayed)|не доставлено|недоставлено|недоставленное сообщение|ошибка доставки)\s*:\s*(.+)$/iu.exec(ownSubject)?.[2] ?? null;
  const returnedSubject = returnedSubjectRaw !== null ? decodeWords(returnedSubjectRaw).replace(/\s+/g, ' ').trim() : (quoted.subject ?? prefixed);
  // A bounce that carries none of our message's headers may still answer it: Gmail and Exchange
  // put our Message-ID in the report's own In-Reply-To and References.
  const replyIds = [...messageIds(firstHeader(root.headers, 'in-reply-to')), ...messageIds(firstHeader(root.headers, 'references')).reverse()];

  const dsn = dsnDeliveries(statusParts, ctx);
  const originalMessageId = dsn.originalMessageId ?? returnedId ?? quoted.messageId ?? replyIds[0] ?? null;
  if (dsn.deliveries.length) return summarise(dsn.deliveries, originalMessageId, returnedSubject);

  // Addresses that are not the failed recipient: the sender of the returned copy (us), the
  // recipients of the report itself (us again).
  const exclude = new Set<string>();
  const returnedFrom = original ? parseAddressList(firstHeader(original.headers, 'from')) : [];
  for (const a of [...returnedFrom, ...parseAddressList(firstHeader(root.headers, 'to'))]) if (a.address) exclude.add(a.address.toLowerCase());
  const returnedTo = original
    ? [...parseAddressList(firstHeader(original.headers, 'to')), ...parseAddressList(firstHeader(original.headers, 'cc'))].map((a) => a.address.toLowerCase())
    : quoted.to;
  const failedHeader = (firstHeader(root.headers, 'x-failed-recipients') ?? '').split(/[,\s]+/).filter((a) => a.includes('@'));
  return summarise(textDeliveries(report, ownSubject, exclude, returnedTo, failedHeader), originalMessageId, returnedSubject);
}

export const EMPTY_BOUNCE: BounceReport = { originalMessageId: null, returnedSubject: null, recipients: [], deliveries: [], status: null, diagnostic: null };

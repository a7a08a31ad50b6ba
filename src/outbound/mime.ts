import { createHash, randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { MailComposerAttachment, MailComposerOptions } from 'nodemailer/lib/mail-composer';

// One outgoing email as raw RFC 5322 bytes. Building the same message twice gives the same bytes
// (see baseBoundary), so whether the outbox keeps the bytes or the parts, every retry sends the
// same message: a crash between "sent" and "marked as sent" can at worst deliver it twice with the
// same Message-ID (which receivers de-duplicate), never two different messages.

export const LOOP_HEADER = 'X-Dossier-Loop';

export interface OutgoingMessage {
  from: string;
  to: string[];
  cc?: string[];
  replyTo?: string;
  subject: string;
  text: string;
  html?: string;
  /**
   * path: streamed from disk while building; content: already in memory; stream: read while the
   * message streams out (streamMessage only: a stored zip goes into the email at send time).
   */
  attachments?: { filename: string; path?: string; content?: Buffer; stream?: Readable; contentType?: string }[];
  /** "<…@…>" */
  messageId: string;
  date: Date;
  inReplyTo?: string;
  references?: string[];
  /**
   * true for notifications and anything automatic: adds `Auto-Submitted: auto-generated` and
   * `X-Auto-Response-Suppress: OOF, AutoReply`. No Precedence header — see buildMessage.
   */
  automatic: boolean;
  /** Our loop-detection header value, e.g. the instance id: added as X-Dossier-Loop. */
  loopId: string;
  headers?: Record<string, string>;
}

const MESSAGE_ID_RE = /^<[^<>\s@]+@[^<>\s@]+>$/;
// RFC 5322 field names: printable ASCII except ":".
const HEADER_NAME_RE = /^[!-9;-~]+$/;
// Headers buildMessage owns; a caller's `headers` may not replace them.
const RESERVED = new Set(
  ['from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'message-id', 'date', 'in-reply-to', 'references',
    'mime-version', 'content-type', 'content-transfer-encoding', 'auto-submitted', 'x-auto-response-suppress',
    LOOP_HEADER.toLowerCase()],
);

function noLineBreaks(what: string, value: string): void {
  // Header injection guard: a CR or LF in a value would start a new header or the body.
  if (/[\r\n]/.test(value)) throw new Error(`${what} must not contain line breaks`);
}

export async function buildMessage(m: OutgoingMessage): Promise<Buffer> {
  const raw = await new MailComposer(composerOptions(m)).compile().build();
  // MailComposer stops right after the closing boundary. SMTP terminates the data with CRLF
  // anyway, so end the stored bytes with one too: what we store is then exactly what arrives.
  return raw.subarray(-2).toString('latin1') === '\r\n' ? raw : Buffer.concat([raw, Buffer.from('\r\n')]);
}

/** Throws what buildMessage would throw on this message (a line break in a header, no recipient…), without building it. */
export function checkMessage(m: OutgoingMessage): void {
  composerOptions(m);
}

/**
 * The same message as buildMessage, as a stream: attachments given as streams are base64-encoded as
 * they are read, so a large zip is never held whole (nor kept a second time). The bytes equal
 * buildMessage's for the same message and attachment contents.
 */
export function streamMessage(m: OutgoingMessage): Readable {
  const out = new MailComposer(composerOptions(m)).compile().createReadStream();
  let tail = '';
  const endWithCrlf = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (chunk.length) tail = (tail + chunk.subarray(-2).toString('latin1')).slice(-2);
      done(null, chunk);
    },
    flush(done) {
      done(null, tail === '\r\n' ? undefined : Buffer.from('\r\n'));
    },
  });
  out.on('error', (err: Error) => endWithCrlf.destroy(err));
  return out.pipe(endWithCrlf);
}

/** Checks the message and turns it into MailComposer's options (throws on anything unsafe). */
function composerOptions(m: OutgoingMessage): MailComposerOptions {
  if (!MESSAGE_ID_RE.test(m.messageId)) throw new Error(`Not a Message-ID: ${JSON.stringify(m.messageId)} (expected "<local@domain>")`);
  if (!(m.date instanceof Date) || Number.isNaN(m.date.getTime())) throw new Error('The message date is not a valid date');
  if (m.to.length === 0) throw new Error('The message has no recipients');
  if (!m.loopId || !/^[\x21-\x7e]+$/.test(m.loopId)) throw new Error(`The loop id must be printable ASCII without spaces: ${JSON.stringify(m.loopId)}`);
  for (const [what, value] of [['subject', m.subject], ['from', m.from], ['replyTo', m.replyTo ?? ''], ['inReplyTo', m.inReplyTo ?? '']] as const) {
    noLineBreaks(what, value);
  }
  for (const ref of m.references ?? []) noLineBreaks('references', ref);

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    if (!HEADER_NAME_RE.test(name)) throw new Error(`Not a header name: ${JSON.stringify(name)}`);
    if (RESERVED.has(name.toLowerCase())) throw new Error(`The header ${name} is set by buildMessage and cannot be overridden`);
    noLineBreaks(`The header ${name}`, value);
    headers[name] = value;
  }
  // Always present, on manual mail too: if any of our mail comes back into the intake mailbox
  // (a cc to ourselves, a forward rule, a bounce quoting it), routing recognises it as our own.
  headers[LOOP_HEADER] = m.loopId;
  if (m.automatic) {
    // RFC 3834: auto-responders (Sieve vacation, most OOF implementations) must not answer it.
    headers['Auto-Submitted'] = 'auto-generated';
    // Exchange/Outlook — what most banks and insurers run — honour this header rather than
    // Auto-Submitted. OOF and AutoReply only: "All" would also suppress non-delivery reports,
    // and bounces are how the outbox learns that a notification failed.
    headers['X-Auto-Response-Suppress'] = 'OOF, AutoReply';
    // No "Precedence: bulk": it is not a standard (RFC 3834 discourages it), and Gmail and other
    // filters treat it as a mass-mailing signal — notifications would drift into spam folders.
    // Auto-Submitted plus the Microsoft header cover the auto-responders we actually meet.
  }

  const attachments: MailComposerAttachment[] = (m.attachments ?? []).map((a, i) => {
    if (!a.filename) throw new Error(`Attachment ${i + 1} has no file name`);
    if ([a.path, a.content, a.stream].filter((x) => x !== undefined).length !== 1) throw new Error(`Attachment ${a.filename}: give exactly one of path or content`);
    return {
      filename: a.filename, // RFC 2231 encoded by nodemailer when not plain ASCII
      ...(a.path !== undefined ? { path: a.path } : { content: a.content ?? a.stream }),
      ...(a.contentType ? { contentType: a.contentType } : {}),
      contentDisposition: 'attachment',
    };
  });

  const options: MailComposerOptions = {
    from: m.from,
    to: m.to,
    ...(m.cc?.length ? { cc: m.cc } : {}),
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    subject: m.subject,
    text: m.text,
    ...(m.html !== undefined ? { html: m.html } : {}),
    attachments,
    messageId: m.messageId,
    date: m.date,
    ...(m.inReplyTo ? { inReplyTo: m.inReplyTo } : {}),
    ...(m.references?.length ? { references: m.references } : {}),
    headers,
    // Boundaries derived from the Message-ID instead of random: building the same message twice
    // gives the same bytes, so a message rebuilt after a crash before its bytes were stored is
    // still the identical message. Safe as a boundary: the Message-ID carries a random part that
    // nobody outside knows before the message is built, so no content can be made to contain it.
    baseBoundary: createHash('sha256').update(m.messageId).digest('hex').slice(0, 24),
    // SMTP wants CRLF; normalise whatever line ends the templates produced.
    newline: 'win',
    // An attachment path must never be fetched from the network; file paths stay allowed.
    disableUrlAccess: true,
  };
  return options;
}

/** A Message-ID for our domain: "<dossier.{id}.{random}@{domain}>" */
export function newMessageId(domain: string, id: string | number): string {
  const d = domain.trim().toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(d)) {
    throw new Error(`Not a domain name for Message-IDs: ${JSON.stringify(domain)}`);
  }
  const i = String(id);
  // Dot-atom characters only, so the id can sit in the left-hand side without quoting.
  if (!/^[A-Za-z0-9_-]+$/.test(i)) throw new Error(`The Message-ID id part must be letters, digits, "_" or "-": ${JSON.stringify(id)}`);
  // The random part keeps ids unique across instances and databases that reuse outbox ids.
  return `<dossier.${i}.${randomBytes(8).toString('hex')}@${d}>`;
}

import type { DroppedPart } from './parse/context.js';

// What intake knows about one incoming message once parsed (src/inbound/parse.ts), before routing.

export interface Address { name: string; address: string }

export interface IncomingAttachment {
  /** Sanitised, unique within the message (no paths, no control characters). */
  fileName: string;
  /** The name the sender gave, as decoded (RFC 2047/2231), for the journal. */
  originalName: string | null;
  /** From the bytes (file-type), not from the sender's Content-Type. */
  contentType: string;
  declaredType: string;
  size: number;
  content: Buffer;
  /** inline images of a signature, calendar parts… are not documents */
  inline: boolean;
}

/** A message forwarded by a manager: the original bank or insurer mail, inline or as message/rfc822. */
export interface ForwardedMessage {
  from: Address | null;
  to: Address[];
  date: Date | null;
  /** The zone the date was written in (minutes east of UTC), or null when it names none. */
  dateOffset: number | null;
  subject: string | null;
  text: string;
  /** How it was found: attached message/rfc822, or an inline forward header block of a mail client. */
  kind: 'rfc822' | 'inline';
  attachments: IncomingAttachment[];
}

export type DeliveryAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

/** One recipient's line of a delivery report (RFC 3464 per-recipient fields, or read from the text). */
export interface BounceDelivery {
  address: string;
  action: DeliveryAction;
  /** The most specific enhanced status code found ("5.7.1" rather than a generic "5.0.0"). */
  status: string | null;
  diagnostic: string | null;
}

/** A delivery report about a message we sent: which of ours, and what happened to each recipient. */
export interface BounceReport {
  /** Our message's Message-ID: from the report, the returned copy, or References/In-Reply-To. */
  originalMessageId: string | null;
  /** The returned message's subject (carries our [REF token] tag when the Message-ID is missing). */
  returnedSubject: string | null;
  /** Failed recipients only. */
  recipients: string[];
  deliveries: BounceDelivery[];
  /** The first failed recipient's status and diagnostic, or the first recipient's when none failed. */
  status: string | null;
  diagnostic: string | null;
}

export type AutoKind = 'auto-reply' | 'bounce' | 'list' | null;

export interface ParsedMessage {
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  from: Address | null;
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  /** Delivered-To / X-Original-To / envelope recipient when present (the plus-address with a token). */
  deliveredTo: string[];
  subject: string;
  /** The subject without stacked Re:/Fwd:/AW:/Отв:/Пересл: … prefixes. */
  subjectCore: string;
  date: Date | null;
  /** The zone the Date: header was written in (minutes east of UTC: +0300 → 180), or null. */
  dateOffset: number | null;
  /** The sender's own text: plain text (HTML converted), with quoted history and the forwarded part removed. */
  ownText: string;
  /** The whole plain text body as decoded. */
  text: string;
  forwarded: ForwardedMessage | null;
  attachments: IncomingAttachment[];
  /** Auto-Submitted / X-Autoreply / Precedence / out-of-office subjects / DSN. */
  auto: AutoKind;
  /** For delivery reports (bounces, delays, successes): what happened to each recipient of our message. */
  bounce: BounceReport | null;
  /** How many From: headers the message has (RFC 5322 allows one; two is a forgery or a broken
   *  client, and must never authorise anything), and every address they name. `from` is the first. */
  fromCount: number;
  fromAddresses: Address[];
  /** The input, or one of its attachments, is an Outlook .msg file (CFB/OLE container), not MIME. */
  outlookMsg: 'message' | 'attachment' | null;
  /** Our own loop header present (a message we sent came back). */
  ours: boolean;
  /** Over intake.limits.maxMessageBytes: only the headers were read (the message is refused, the sender told). */
  tooLarge: { size: number; limit: number } | null;
  /** Files (and parts) not taken, each with why: over a size or count limit, cut off. */
  dropped: DroppedPart[];
  /** Authentication-Results header values (trusted only when our own MTA added them). */
  authResults: string[];
  /** Problems met while parsing (a wrong charset repaired, a truncated part) — recorded in the journal. */
  warnings: string[];
  /** Raw headers (lower-case names), for the journal and routing. */
  headers: Map<string, string[]>;
}

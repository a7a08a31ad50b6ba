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
  subject: string | null;
  text: string;
  /** How it was found: attached message/rfc822, or an inline forward header block of a mail client. */
  kind: 'rfc822' | 'inline';
  attachments: IncomingAttachment[];
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
  /** The sender's own text: plain text (HTML converted), with quoted history and the forwarded part removed. */
  ownText: string;
  /** The whole plain text body as decoded. */
  text: string;
  forwarded: ForwardedMessage | null;
  attachments: IncomingAttachment[];
  /** Auto-Submitted / X-Autoreply / Precedence / out-of-office subjects / DSN. */
  auto: AutoKind;
  /** For bounces: the Message-ID and recipients of our message that failed, and the reason. */
  bounce: { originalMessageId: string | null; recipients: string[]; status: string | null; diagnostic: string | null } | null;
  /** Our own loop header present (a message we sent came back). */
  ours: boolean;
  /** Authentication-Results header values (trusted only when our own MTA added them). */
  authResults: string[];
  /** Problems met while parsing (a wrong charset repaired, a truncated part) — recorded in the journal. */
  warnings: string[];
  /** Raw headers (lower-case names), for the journal and routing. */
  headers: Map<string, string[]>;
}

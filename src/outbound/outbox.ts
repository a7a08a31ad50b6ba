import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Actor, App } from '../app.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { recordEvent } from '../records/events.js';
import { hashingTap, type StoredBlob } from '../storage/blobs.js';
import { buildMessage, checkMessage, newMessageId, streamMessage, type OutgoingMessage } from './mime.js';
import { fileTransport, SendError, smtpTransport, type MessageBytes, type Transport } from './transports.js';

// The outbox: one row per email, kept before anything is sent so that a retry — even after a crash
// between sending and recording — sends the same bytes and Message-ID: a message with attachments
// given as bytes or files as its raw bytes in the blob store; any other (text alone, or attachments
// already stored, such as a package's zip) as its parts, built the same way at every attempt.
// A pg-boss job (one per row at a time: the queue is "stately" with the row id as singleton key)
// sends it; temporary failures go back to the queue with backoff, permanent ones fail with the reason.

export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'bounced' | 'cancelled';
export const OUTBOX_STATUSES: readonly OutboxStatus[] = ['queued', 'sending', 'sent', 'delivered', 'failed', 'bounced', 'cancelled'];

export interface OutboxRow {
  id: number;
  record_id: number | null;
  party_id: number | null;
  package_id: number | null;
  kind: string;
  message_id: string;
  from_address: string;
  to_addresses: string[];
  subject: string;
  /** The whole message in the blob store; null when it refers to stored attachments instead (`message`). */
  raw_sha256: string | null;
  /** The message without its attachments, whose bytes stay in the blob store (outbox_attachments). */
  message: StoredMessage | null;
  /** What went out at the last attempt, and `size` its length (estimated until then for a `message` row). */
  sent_sha256: string | null;
  size: number;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date | null;
  last_response: string | null;
  transport: string | null;
  created_by: string;
  created_at: Date;
  sent_at: Date | null;
  updated_at: Date;
}

/** An attachment: a file, bytes, or a file already in the blob store (sent by reference: no copy is kept). */
export type MailAttachment = NonNullable<OutgoingMessage['attachments']>[number] & { blob?: StoredBlob };

/** An outbox row's message as kept in `message`: everything but the attachments' bytes. */
export type StoredMessage = Omit<OutgoingMessage, 'attachments' | 'date'> & { date: string };

interface AttachmentRef { filename: string; contentType: string | null; sha256: string; size: number }

export interface MailInput extends Omit<OutgoingMessage, 'messageId' | 'date' | 'loopId' | 'from' | 'attachments'> {
  attachments?: MailAttachment[];
  recordId: number | null;
  partyId: number | null;
  packageId?: number | null;
  kind: 'package' | 'notification' | 'confirmation' | 'acknowledgement';
}

/** Where the file transport writes its .eml files. */
export function outboxDir(app: App): string {
  return app.config.mail.fileDir ? path.resolve(app.config.mail.fileDir) : path.join(app.home, 'outbox');
}

export function transportFor(app: App): Transport {
  const m = app.config.mail;
  if (m.transport === 'file') return fileTransport(outboxDir(app));
  return smtpTransport({
    host: m.smtp.host,
    port: m.smtp.port,
    security: m.smtp.security,
    ...(m.smtp.user ? { user: m.smtp.user } : {}),
    ...(m.smtp.password ? { password: m.smtp.password } : {}),
    allowSelfSigned: m.smtp.allowSelfSigned,
    timeoutMs: m.smtp.timeoutSeconds * 1000,
  });
}

/** Base64 in 76-character lines with CRLF, as nodemailer writes an attachment of `n` bytes. */
const base64Size = (n: number) => {
  const chars = 4 * Math.ceil(n / 3);
  return chars + 2 * Math.ceil(chars / 76);
};

/**
 * Builds the message, keeps its bytes, writes the outbox row; the caller queues the job. A message
 * with an attachment already in the blob store (a package's zip) is kept without its attachments'
 * bytes: the row refers to the stored files and the worker streams them in when it sends, so the
 * zip is never copied (a base64 copy inside a stored message was a third write of every package).
 */
export async function enqueueMail(app: App, q: Queryable, actor: Actor, input: MailInput): Promise<OutboxRow> {
  const messageId = newMessageId(app.config.mail.domain, `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
  const { recordId, partyId, packageId, kind, attachments = [], ...rest } = input;
  const message: OutgoingMessage = { ...rest, from: app.config.mail.from, messageId, date: new Date(), loopId: app.config.mail.domain };
  const byRef = attachments.some((a) => a.blob);
  let raw: StoredBlob | null = null;
  const refs: AttachmentRef[] = [];
  let size: number;
  if (!attachments.length) {
    // A message of text alone (every notification) is kept as its parts and built when it is sent:
    // the same bytes every time (boundaries come from the Message-ID), and no build and no file
    // write inside the caller's transaction — for intake, under the record's lock. Checked now as
    // buildMessage checks it; its size estimated (headers, base64 text) until it is sent.
    checkMessage(message);
    size = 1024 + Buffer.byteLength([...message.to, ...(message.cc ?? []), message.subject].join()) * 2 + base64Size(Buffer.byteLength(message.text)) + (message.html ? base64Size(Buffer.byteLength(message.html)) : 0);
  } else if (!byRef) {
    const bytes = await buildMessage({ ...message, attachments });
    raw = await app.blobs.put(bytes);
    size = raw.size;
  } else {
    // Every attachment by reference then: one given as a file or bytes is stored first.
    for (const a of attachments) {
      const blob = a.blob ?? (await app.blobs.put(a.content !== undefined ? a.content : a.stream ?? a.path!));
      refs.push({ filename: a.filename, contentType: a.contentType ?? null, sha256: blob.sha256, size: blob.size });
    }
    // Checked now as buildMessage checks it (stand-ins for the attachments), and its size estimated:
    // the exact size is recorded when it is sent.
    const frame = await buildMessage({ ...message, attachments: refs.map((r) => ({ filename: r.filename, content: Buffer.alloc(0), ...(r.contentType ? { contentType: r.contentType } : {}) })) });
    size = frame.length + refs.reduce((n, r) => n + base64Size(r.size), 0);
  }
  const stored: StoredMessage | null = raw ? null : { ...message, date: message.date.toISOString() };
  // The outbox row, its message's blob row (when the bytes are kept) and its mail_queued event in
  // one statement: a notification is one round trip inside intake's transaction, not three.
  const row = (
    await q.query<OutboxRow>(
      `WITH raw AS (INSERT INTO blobs (sha256, size, content_type) SELECT $9, $11, 'message/rfc822' WHERE $9::text IS NOT NULL ON CONFLICT DO NOTHING),
       queued AS (
         INSERT INTO outbox (record_id, party_id, package_id, kind, message_id, from_address, to_addresses, subject, raw_sha256, message, size, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *),
       event AS (
         INSERT INTO events (record_id, party_id, actor, source, kind, field, new_value, details)
         SELECT record_id, party_id, $12, $13, 'mail_queued', 'outbox:' || id,
           jsonb_build_object('outbox', id, 'kind', kind, 'to', to_addresses, 'subject', subject, 'messageId', message_id), 'null'
         FROM queued WHERE record_id IS NOT NULL)
       SELECT * FROM queued`,
      [recordId, partyId, packageId ?? null, kind, messageId, app.config.mail.from, [...input.to, ...(input.cc ?? [])], input.subject, raw?.sha256 ?? null, stored ? JSON.stringify(stored) : null, size, actor.id, actor.source],
    )
  ).rows[0]!;
  for (const [seq, r] of refs.entries()) {
    await q.query('INSERT INTO blobs (sha256, size, content_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [r.sha256, r.size, r.contentType ?? 'application/octet-stream']);
    await q.query('INSERT INTO outbox_attachments (outbox_id, seq, sha256, size, file_name, content_type) VALUES ($1, $2, $3, $4, $5, $6)', [row.id, seq, r.sha256, r.size, r.filename, r.contentType]);
  }
  return row;
}

export type DeliveryOutcome = 'sent' | 'retry' | 'failed' | 'done';

const actorOf = (app: App): Actor => ({ id: `worker:${process.pid}`, source: 'worker' });

/** One delivery attempt of one outbox row. */
export async function deliver(app: App, transport: Transport, outboxId: number): Promise<DeliveryOutcome> {
  const row = (await app.db.query<OutboxRow>(`UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = now() WHERE id = $1 AND status IN ('queued', 'sending') RETURNING *`, [outboxId])).rows[0];
  if (!row) return 'done'; // already sent, failed for good, or bounced
  const out = await messageBytes(app, row);
  const actor = actorOf(app);
  try {
    const r = await transport.send(out.bytes, { from: addressOnly(row.from_address), to: row.to_addresses }, row.message_id);
    const sent = out.sent();
    await app.db.query(`UPDATE outbox SET status = 'sent', sent_at = now(), last_response = $2, transport = $3, next_attempt_at = NULL, sent_sha256 = $4, size = $5, updated_at = now() WHERE id = $1`, [row.id, r.response, transport.name, sent.sha256, sent.size]);
    if (row.record_id) await recordEvent(app.db, actor, { recordId: row.record_id, partyId: row.party_id, kind: 'mail_sent', field: `outbox:${row.id}`, newValue: { outbox: row.id, to: row.to_addresses, subject: row.subject, response: r.response, attempts: row.attempts } });
    return 'sent';
  } catch (err) {
    out.abandon();
    const e = err instanceof SendError ? err : new SendError(`${(err as Error).message}`, { permanent: false, response: (err as Error).message });
    const retry = app.config.mail.retry;
    if (!e.permanent && row.attempts <= retry.limit) {
      const delay = retry.delaySeconds * (retry.backoff ? 2 ** (row.attempts - 1) : 1);
      await app.db.query(`UPDATE outbox SET status = 'queued', last_response = $2, transport = $3, next_attempt_at = now() + make_interval(secs => $4), updated_at = now() WHERE id = $1`, [row.id, e.response, transport.name, delay]);
      return 'retry';
    }
    const reason = e.permanent ? e.response : `gave up after ${row.attempts} attempts; last: ${e.response}`;
    await app.db.query(`UPDATE outbox SET status = 'failed', last_response = $2, transport = $3, next_attempt_at = NULL, updated_at = now() WHERE id = $1`, [row.id, reason, transport.name]);
    if (row.record_id) await recordEvent(app.db, actor, { recordId: row.record_id, partyId: row.party_id, kind: 'mail_failed', field: `outbox:${row.id}`, newValue: { outbox: row.id, to: row.to_addresses, subject: row.subject, reason } });
    return 'failed';
  }
}

/**
 * The row's message for one attempt: its stored bytes, or the message streamed with its stored
 * attachments read from the blob store as it goes out. `sent()` tells the hash and length of what
 * went out (the same every attempt); `abandon()` closes the stored files of an attempt that failed.
 */
async function messageBytes(app: App, row: OutboxRow): Promise<{ bytes: MessageBytes; sent(): StoredBlob; abandon(): void }> {
  if (row.raw_sha256 !== null) {
    const raw = await buffer(await app.blobs.open(row.raw_sha256));
    return { bytes: raw, sent: () => ({ sha256: row.raw_sha256!, size: raw.length }), abandon: () => {} };
  }
  const refs = (await app.db.query<{ sha256: string; file_name: string; content_type: string | null }>('SELECT sha256, file_name, content_type FROM outbox_attachments WHERE outbox_id = $1 ORDER BY seq', [row.id])).rows;
  const opened: Readable[] = [];
  try {
    for (const r of refs) opened.push(await app.blobs.open(r.sha256));
  } catch (err) {
    for (const o of opened) o.destroy();
    throw err;
  }
  const m = row.message!;
  const message = streamMessage({
    ...m,
    date: new Date(m.date),
    attachments: refs.map((r, i) => ({ filename: r.file_name, stream: opened[i]!, ...(r.content_type ? { contentType: r.content_type } : {}) })),
  });
  const { tap: meter, digest } = hashingTap();
  message.on('error', (err: Error) => meter.destroy(err));
  return {
    bytes: { stream: message.pipe(meter), date: new Date(m.date) },
    sent: digest,
    abandon: () => {
      for (const s of [message, meter, ...opened]) s.destroy();
    },
  };
}

/** The message a row sends, byte for byte as it goes out (`dossier outbox show`). */
export async function outboxMessage(app: App, id: number): Promise<{ row: OutboxRow; eml: Buffer }> {
  const row = (await app.db.query<OutboxRow>('SELECT * FROM outbox WHERE id = $1', [id])).rows[0];
  if (!row) throw new DossierError('OUTBOX_NOT_FOUND', `There is no outbox message #${id}.`, { hint: 'See `dossier outbox list`.' });
  const out = await messageBytes(app, row);
  return { row, eml: Buffer.isBuffer(out.bytes) ? out.bytes : await buffer(out.bytes.stream) };
}

/** "Имя <a@b>" → "a@b" for the SMTP envelope. */
function addressOnly(a: string): string {
  return /<([^>]+)>/.exec(a)?.[1] ?? a.trim();
}

export interface OutboxFilter { status?: string | undefined; ref?: string | undefined; limit?: number | undefined; offset?: number | undefined; before?: number | undefined }

/** Outbox messages newest first, a page at a time (`before`: only rows older than that id). */
export async function listOutbox(app: App, filter: OutboxFilter = {}): Promise<(OutboxRow & { ref: string | null })[]> {
  if (filter.status && !(OUTBOX_STATUSES as readonly string[]).includes(filter.status)) {
    throw new DossierError('USAGE', `"${filter.status}" is not an outbox status.`, { hint: `Statuses: ${OUTBOX_STATUSES.join(', ')}.` });
  }
  return (
    await app.db.query<OutboxRow & { ref: string | null }>(
      `SELECT o.*, r.ref FROM outbox o LEFT JOIN records r ON r.id = o.record_id
       WHERE ($1::text IS NULL OR o.status = $1) AND ($2::text IS NULL OR r.ref = $2) AND ($3::bigint IS NULL OR o.id < $3)
       ORDER BY o.id DESC LIMIT $4 OFFSET $5`,
      [filter.status ?? null, filter.ref ?? null, filter.before ?? null, filter.limit ?? null, filter.offset ?? 0],
    )
  ).rows;
}

/**
 * Cancels a queued email before it goes out. One already being sent, sent, failed or bounced cannot
 * be: the row is taken only while still queued, so a worker that picked it up first wins.
 */
export async function cancelOutbox(app: App, actor: Actor, id: number, reason?: string): Promise<OutboxRow> {
  return withTransaction(app.db, async (c) => {
    const row = (await c.query<OutboxRow>(`UPDATE outbox SET status = 'cancelled', next_attempt_at = NULL, last_response = $2, updated_at = now() WHERE id = $1 AND status = 'queued' RETURNING *`, [id, `cancelled by ${actor.id}${reason ? `: ${reason}` : ''}`])).rows[0];
    if (!row) {
      const now = (await c.query<OutboxRow>('SELECT * FROM outbox WHERE id = $1', [id])).rows[0];
      if (!now) throw new DossierError('OUTBOX_NOT_FOUND', `There is no outbox message #${id}.`, { hint: 'See `dossier outbox list`.' });
      throw new DossierError('OUTBOX_STATE', `Message #${id} is ${now.status}${now.sent_at ? ` (sent ${now.sent_at.toISOString()})` : ''}; only a queued message can be cancelled.`, {
        hint: now.status === 'sending' ? 'A worker is sending it right now.' : now.status === 'cancelled' ? 'It was cancelled already.' : 'What has gone out cannot be called back.',
      });
    }
    if (row.record_id) await recordEvent(c, actor, { recordId: row.record_id, partyId: row.party_id, kind: 'mail_cancelled', field: `outbox:${id}`, oldValue: 'queued', newValue: 'cancelled', details: { to: row.to_addresses, subject: row.subject, ...(reason ? { reason } : {}) } });
    return row;
  });
}

/** Puts a failed (or bounced) message back in the queue: the same bytes and Message-ID go out again. */
export async function retryOutbox(app: App, actor: Actor, id: number): Promise<OutboxRow> {
  const row = (await app.db.query<OutboxRow>('SELECT * FROM outbox WHERE id = $1', [id])).rows[0];
  if (!row) throw new DossierError('OUTBOX_NOT_FOUND', `There is no outbox message #${id}.`, { hint: 'See `dossier outbox list`.' });
  if (row.status === 'sent' || row.status === 'sending') {
    throw new DossierError('OUTBOX_STATE', `Message #${id} is ${row.status}; only failed, bounced or queued messages can be retried.`);
  }
  const updated = (await app.db.query<OutboxRow>(`UPDATE outbox SET status = 'queued', next_attempt_at = now(), attempts = 0, updated_at = now() WHERE id = $1 RETURNING *`, [id])).rows[0]!;
  if (row.record_id) await recordEvent(app.db, actor, { recordId: row.record_id, partyId: row.party_id, kind: 'mail_retried', field: `outbox:${id}`, oldValue: row.status, newValue: 'queued' });
  return updated;
}

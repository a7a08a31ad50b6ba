import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { NodemailerError, SMTPTransportOptions } from 'nodemailer';

// Transports take the message as stored raw bytes (see mime.ts) plus an explicit envelope, and
// answer in one of two ways: a SendResult, or a SendError that says whether trying again later
// can help. The outbox decides about retries from `permanent` alone.

export interface Envelope {
  from: string;
  to: string[];
}

export interface SendResult {
  response: string;
  accepted: string[];
  /** Recipients the server refused while accepting others: the message counts as sent. */
  rejected: string[];
}

export interface SendErrorOptions {
  permanent: boolean;
  response: string;
  responseCode?: number;
  /** nodemailer's error code (ECONNECTION, EAUTH, …) or the system one. */
  code?: string;
  cause?: unknown;
}

/**
 * permanent: true for 5xx replies (the message will never go through as it is) and for
 * authentication/configuration failures; false for 4xx, timeouts, connection refused/reset,
 * DNS errors — retry later.
 */
export class SendError extends Error {
  readonly permanent: boolean;
  readonly response: string;
  readonly responseCode?: number;
  readonly code?: string;

  constructor(message: string, o: SendErrorOptions) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'SendError';
    this.permanent = o.permanent;
    this.response = o.response;
    if (o.responseCode !== undefined) this.responseCode = o.responseCode;
    if (o.code !== undefined) this.code = o.code;
  }
}

/**
 * The message's bytes: whole (stored raw), or a stream read once while sending (a message whose
 * stored zip is streamed into it); `date` is the message's Date, which a stream cannot be asked for.
 */
export type MessageBytes = Buffer | { stream: Readable; date: Date };

export interface Transport {
  readonly name: string;
  send(raw: MessageBytes, envelope: Envelope, messageId: string): Promise<SendResult>;
  verify(): Promise<void>;
  close(): void;
}

export interface SmtpSettings {
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  user?: string;
  password?: string;
  /** Connect, greeting and idle-socket timeout; 60 s when not set. */
  timeoutMs?: number;
  pool?: boolean;
  /** Accept a self-signed or otherwise unverifiable certificate: tests and private mail servers only. */
  allowSelfSigned?: boolean;
}

// Failures that come back the same however often we retry, until a person changes something:
// credentials (EAUTH/ENOAUTH), the configuration, an address nodemailer cannot even put into an
// envelope, a message bigger than the server's SIZE, a server without REQUIRETLS.
const PERMANENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'ECONFIG', 'EENVELOPE', 'EMESSAGE', 'EREQUIRETLS', 'EMAXRECIPIENTS', 'EFILEACCESS', 'EURLACCESS']);

/** Turns whatever nodemailer threw into a SendError. Exported for the worker's own checks. */
export function classifySendError(err: unknown, what = 'SMTP'): SendError {
  if (err instanceof SendError) return err;
  const e = (err ?? {}) as NodemailerError;
  const message = e.message || String(err);
  const response = typeof e.response === 'string' && e.response ? e.response : message;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  let permanent: boolean;
  if (responseCode !== undefined && responseCode >= 400 && responseCode < 600) {
    // The server's own word decides. 4xx is "try later" even during AUTH (454: the auth backend
    // is down). 503 is "bad sequence of commands": the session went wrong, not the message —
    // nodemailer reads it the same way — so a new connection may well succeed.
    permanent = responseCode >= 500 && responseCode !== 503;
  } else {
    // No SMTP reply: connection refused/reset, timeouts, DNS, TLS handshakes, protocol noise are
    // all worth another try; unknown codes too, as a lost message is worse than a late failure.
    permanent = code !== undefined && PERMANENT_CODES.has(code);
  }
  return new SendError(`${what}: ${message}`, {
    permanent,
    response,
    ...(responseCode !== undefined ? { responseCode } : {}),
    ...(code !== undefined ? { code } : {}),
    cause: err,
  });
}

function checkEnvelope(envelope: Envelope): void {
  if (!envelope.from) throw new SendError('The envelope has no sender', { permanent: true, response: 'no envelope sender', code: 'EENVELOPE' });
  if (envelope.to.length === 0) throw new SendError('The envelope has no recipients', { permanent: true, response: 'no envelope recipients', code: 'EENVELOPE' });
}

function addresses(list: unknown): string[] {
  // nodemailer reports addresses as strings, but its types allow { address } objects too.
  if (!Array.isArray(list)) return [];
  return list.map((a) => (typeof a === 'string' ? a : String((a as { address?: unknown }).address ?? a)));
}

/** nodemailer.createTransport + sendMail({ envelope, raw }): the stored bytes go out unchanged. */
export function smtpTransport(s: SmtpSettings): Transport {
  const timeout = s.timeoutMs ?? 60_000;
  const options: SMTPTransportOptions = {
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    // 'starttls' refuses to go on in clear text if the server does not offer STARTTLS;
    // 'none' never upgrades, even when offered (a local relay with a broken certificate).
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    ...(s.user !== undefined ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    ...(s.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
    logger: false,
  };
  const transporter = s.pool ? nodemailer.createTransport({ ...options, pool: true }) : nodemailer.createTransport(options);
  const name = `smtp:${s.host}:${s.port}`;

  return {
    name,
    async send(raw, envelope, messageId) {
      checkEnvelope(envelope);
      try {
        const info = await transporter.sendMail({ envelope: { from: envelope.from, to: envelope.to }, raw: Buffer.isBuffer(raw) ? raw : raw.stream, messageId });
        // Some recipients refused, others accepted: the message went out. Retrying would send
        // a second copy to everybody who already has it, so report the refusals instead.
        return { response: String(info.response ?? ''), accepted: addresses(info.accepted), rejected: addresses(info.rejected) };
      } catch (err) {
        throw classifySendError(err, `${name} (${messageId})`);
      }
    },
    async verify() {
      try {
        await transporter.verify();
      } catch (err) {
        throw classifySendError(err, name);
      }
    },
    close() {
      transporter.close();
    },
  };
}

/** A file name from a Message-ID: "<a.b@c>" → "a.b@c"; anything odd replaced and disambiguated with a hash. */
function safeName(messageId: string): string {
  const bare = messageId.trim().replace(/^<|>$/g, '');
  let name = bare.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_');
  if (name !== bare || name.length > 150) {
    // Replacing characters could make two ids collide; the hash of the original keeps them apart.
    name = `${name.slice(0, 150)}-${createHash('sha256').update(messageId).digest('hex').slice(0, 10)}`;
  }
  return name;
}

/** The message's own Date header, so that a retry after midnight lands in the same folder. */
function messageDate(raw: Buffer): Date {
  const text = raw.subarray(0, 64 * 1024).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const m = /^Date:[ \t]*(.+)$/im.exec(head);
  const d = m ? new Date(m[1]!.trim()) : new Date(NaN);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

/**
 * Writes <dir>/<yyyy-mm-dd>/<safe message id>.eml atomically (temp + rename); the same messageId
 * writes the same file again (idempotent), so a retry never leaves two different copies.
 * The day is the message's Date header in UTC. The file holds the raw bytes only: the envelope
 * is not recorded (Bcc-style recipients are invisible in the file).
 */
export function fileTransport(dir: string): Transport {
  const root = path.resolve(dir);
  return {
    name: `file:${root}`,
    async send(raw, envelope, messageId) {
      checkEnvelope(envelope);
      if (!messageId.trim()) throw new SendError('No Message-ID for the file name', { permanent: true, response: 'no message id' });
      const day = (Buffer.isBuffer(raw) ? messageDate(raw) : raw.date).toISOString().slice(0, 10);
      const folder = path.join(root, day);
      const target = path.join(folder, `${safeName(messageId)}.eml`);
      // The temp name starts with a dot, so a reader globbing *.eml never sees half a message.
      const temp = path.join(folder, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      try {
        await mkdir(folder, { recursive: true });
        const fh = await open(temp, 'wx');
        try {
          if (Buffer.isBuffer(raw)) await fh.writeFile(raw);
          else for await (const chunk of raw.stream as AsyncIterable<Buffer>) await fh.writeFile(chunk); // each piece in full, in order
          await fh.sync(); // on disk before the rename makes it visible
        } finally {
          await fh.close();
        }
        await rename(temp, target);
      } catch (err) {
        if (!Buffer.isBuffer(raw)) raw.stream.destroy();
        await unlink(temp).catch(() => undefined);
        // A full disk or a missing permission does not fix itself quickly, but it does get fixed
        // without changing the message: retry.
        throw classifySendError(err, `file transport (${messageId})`);
      }
      return { response: `250 written to ${target}`, accepted: [...envelope.to], rejected: [] };
    },
    async verify() {
      try {
        await mkdir(root, { recursive: true });
        await access(root, constants.W_OK);
      } catch (err) {
        throw classifySendError(err, `file transport ${root}`);
      }
    },
    close() {},
  };
}

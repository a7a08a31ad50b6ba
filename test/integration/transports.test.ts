import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { crc32 } from 'node:zlib';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildMessage, LOOP_HEADER, newMessageId, streamMessage, type OutgoingMessage } from '../../src/outbound/mime.js';
import { fileTransport, SendError, smtpTransport, type SmtpSettings, type Transport } from '../../src/outbound/transports.js';

// A real in-process smtp-server on 127.0.0.1 and real nodemailer connections: no mocked sockets.

/** A one-file zip (stored, no compression) — enough for mail clients and for checking bytes. */
function tinyZip(name: string, data: Buffer): Buffer {
  const n = Buffer.from(name, 'utf8');
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0x0800, 6);
  local.writeUInt32LE(crc, 14); local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(0x0800, 8);
  central.writeUInt32LE(crc, 16); central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(n.length, 28);
  const localSize = 30 + n.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + n.length, 12); end.writeUInt32LE(localSize, 16);
  return Buffer.concat([local, n, data, central, n, end]);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const addressText = (a: AddressObject | AddressObject[] | undefined) => (Array.isArray(a) ? a.map((x) => x.text).join(', ') : a?.text);

let tmp: string;
let zip: Buffer;
let scanPath: string;
const scan = Buffer.from('%PDF-1.4\n% scan of a passport, not really\n%%EOF\n');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'dossier-transports-'));
  zip = tinyZip('Анкета.pdf', Buffer.from('%PDF-1.4 анкета'));
  scanPath = path.join(tmp, 'scan.pdf');
  await writeFile(scanPath, scan);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function message(over: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    from: 'Досье — кредитный отдел <noreply@dossier.example>',
    to: ['Иванов Иван <ivanov@bank.example>', 'credit@bank.example'],
    cc: ['Пётр Сидоров <manager@dossier.example>'],
    replyTo: 'intake+dl-2026-00042.k7f3qa@dossier.example',
    subject: '[DL-2026-00042 k7f3qa] Заявка на автокредит: Смирнов А. В., 1 500 000 ₽',
    text: 'Здравствуйте!\nВо вложении пакет документов по заявке.\n\nС уважением,\nкредитный отдел\n',
    html: '<p>Здравствуйте!</p><p>Во вложении пакет документов по заявке.</p>',
    attachments: [
      { filename: 'Пакет документов DL-2026-00042.zip', content: zip, contentType: 'application/zip' },
      { filename: 'Паспорт заёмщика (скан) — стр. 2–3.pdf', path: scanPath },
    ],
    messageId: newMessageId('dossier.example', 42),
    date: new Date('2026-11-21T09:30:00Z'),
    inReplyTo: '<bank.123@bank.example>',
    references: ['<dossier.41.aaaa@dossier.example>', '<bank.123@bank.example>'],
    automatic: false,
    loopId: 'dossier-test-1',
    ...over,
  };
}

describe('buildMessage', () => {
  it('encodes Russian subjects, names and file names so that a parser reads them back', async () => {
    const m = message();
    const raw = await buildMessage(m);
    // All 7-bit: the Cyrillic is RFC 2047 (headers, name=) / RFC 2231 (filename*=) encoded, not raw UTF-8.
    const text = raw.toString('latin1');
    expect(text).toMatch(/^[\x00-\x7f]*$/);
    expect(text).toMatch(/^Subject: =\?UTF-8\?[BQ]\?/m);
    expect(text).toMatch(/filename\*0\*=utf-8''/i);

    const p = await simpleParser(raw);
    expect(p.subject).toBe(m.subject);
    expect(p.from?.text).toBe('"Досье — кредитный отдел" <noreply@dossier.example>');
    expect(p.from?.value[0]).toMatchObject({ name: 'Досье — кредитный отдел', address: 'noreply@dossier.example' });
    expect(addressText(p.to)).toBe('"Иванов Иван" <ivanov@bank.example>, credit@bank.example');
    expect(addressText(p.cc)).toBe('"Пётр Сидоров" <manager@dossier.example>');
    expect(p.replyTo?.value[0]?.address).toBe('intake+dl-2026-00042.k7f3qa@dossier.example');
    expect(p.messageId).toBe(m.messageId);
    expect(p.inReplyTo).toBe('<bank.123@bank.example>');
    expect(p.references).toEqual(m.references);
    expect(p.date?.toISOString()).toBe('2026-11-21T09:30:00.000Z');
    expect(p.text).toBe(m.text);
    expect(p.html).toContain('Во вложении пакет документов');

    expect(p.attachments.map((a) => a.filename)).toEqual(['Пакет документов DL-2026-00042.zip', 'Паспорт заёмщика (скан) — стр. 2–3.pdf']);
    expect(p.attachments[0]!.contentType).toBe('application/zip');
    expect(p.attachments[0]!.content.equals(zip)).toBe(true);
    expect(p.attachments[1]!.contentType).toBe('application/pdf'); // from the extension
    expect(p.attachments[1]!.content.equals(scan)).toBe(true); // streamed from disk
    expect(p.attachments.every((a) => a.contentDisposition === 'attachment')).toBe(true);

    expect(p.headers.get(LOOP_HEADER.toLowerCase())).toBe('dossier-test-1');
    expect(p.headers.has('auto-submitted')).toBe(false);
    expect(p.headers.has('x-auto-response-suppress')).toBe(false);
    expect(p.headers.has('precedence')).toBe(false);
  });

  it('marks automatic mail for auto-responders and keeps custom headers', async () => {
    const raw = await buildMessage(message({ automatic: true, headers: { 'X-Dossier-Record': 'DL-2026-00042' }, html: undefined, attachments: [] }));
    const p = await simpleParser(raw);
    expect(p.headers.get('auto-submitted')).toBe('auto-generated');
    expect(p.headers.get('x-auto-response-suppress')).toBe('OOF, AutoReply');
    expect(p.headers.get('x-dossier-record')).toBe('DL-2026-00042');
    expect(p.headers.get('x-dossier-loop')).toBe('dossier-test-1');
    expect(p.attachments).toEqual([]);
    expect(p.html).toBe(false);
  });

  it('gives the same bytes for the same message, with CRLF line ends only', async () => {
    const m = message();
    const a = await buildMessage(m);
    const b = await buildMessage(m);
    expect(a.equals(b)).toBe(true);
    expect(a.toString('latin1')).not.toMatch(/[^\r]\n/);
    expect(a.subarray(-2).toString()).toBe('\r\n');
  });

  it('streams the same bytes as it builds, an attachment read from a stream as the message goes out', async () => {
    // A zip larger than one stream chunk, handed over in odd-sized pieces: the base64 lines must not
    // depend on how the bytes arrive.
    const big = Buffer.concat([zip, randomBytes(300_001)]);
    const m = message({ attachments: [{ filename: 'Пакет документов DL-2026-00042.zip', content: big, contentType: 'application/zip' }] });
    const built = await buildMessage(m);
    const pieces = [big.subarray(0, 1), big.subarray(1, 70_000), big.subarray(70_000, 70_001), big.subarray(70_001)];
    const streamed = await buffer(streamMessage({ ...m, attachments: [{ filename: 'Пакет документов DL-2026-00042.zip', stream: Readable.from(pieces), contentType: 'application/zip' }] }));
    expect(sha256(streamed)).toBe(sha256(built));
  });

  it('refuses header injection, reserved headers and bad ids', async () => {
    await expect(buildMessage(message({ subject: 'Hi\r\nBcc: victim@example.com' }))).rejects.toThrow(/line breaks/);
    await expect(buildMessage(message({ headers: { 'X-Note': 'a\nb' } }))).rejects.toThrow(/line breaks/);
    await expect(buildMessage(message({ headers: { 'Auto-Submitted': 'no' } }))).rejects.toThrow(/cannot be overridden/);
    await expect(buildMessage(message({ headers: { 'Bad Name': 'x' } }))).rejects.toThrow(/header name/);
    await expect(buildMessage(message({ messageId: 'no-brackets@dossier.example' }))).rejects.toThrow(/Message-ID/);
    await expect(buildMessage(message({ to: [] }))).rejects.toThrow(/recipients/);
    await expect(buildMessage(message({ loopId: 'two words' }))).rejects.toThrow(/loop id/);
    await expect(buildMessage(message({ attachments: [{ filename: 'x.pdf' }] }))).rejects.toThrow(/exactly one/);
    await expect(buildMessage(message({ attachments: [{ filename: 'x.pdf', path: path.join(tmp, 'missing.pdf') }] }))).rejects.toThrow();
  });

  it('makes Message-IDs for our domain', () => {
    const a = newMessageId('Dossier.Example', 42);
    expect(a).toMatch(/^<dossier\.42\.[0-9a-f]{16}@dossier\.example>$/);
    expect(newMessageId('dossier.example', 42)).not.toBe(a);
    expect(newMessageId('dossier.example', 'ob_7')).toMatch(/^<dossier\.ob_7\./);
    expect(() => newMessageId('dossier.example', 'a@b')).toThrow();
    expect(() => newMessageId('not a domain', 1)).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------

interface Received {
  raw: Buffer;
  from: string | false;
  to: string[];
  session: SMTPServerSession;
}

interface TestServer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const transports: Transport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

async function startServer(options: SMTPServerOptions = {}): Promise<TestServer> {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          raw: Buffer.concat(chunks),
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          session,
        });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as net.AddressInfo).port;
  const s: TestServer = { port, received, close: () => new Promise<void>((r) => server.close(() => r())) };
  servers.push(s);
  return s;
}

function transport(settings: Partial<SmtpSettings> & { port: number }): Transport {
  const t = smtpTransport({ host: '127.0.0.1', security: 'none', timeoutMs: 5_000, ...settings });
  transports.push(t);
  return t;
}

async function sendError(p: Promise<unknown>): Promise<SendError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SendError);
  return err as SendError;
}

const envelope = { from: 'bounces@dossier.example', to: ['ivanov@bank.example', 'credit@bank.example'] };

describe('smtpTransport', () => {
  it('delivers the stored bytes unchanged', async () => {
    const server = await startServer();
    const m = message();
    const raw = await buildMessage(m);
    const t = transport({ port: server.port });
    await t.verify();
    const result = await t.send(raw, envelope, m.messageId);
    expect(result.accepted).toEqual(envelope.to);
    expect(result.rejected).toEqual([]);
    expect(result.response).toMatch(/^250 /);

    expect(server.received).toHaveLength(1);
    const got = server.received[0]!;
    expect(got.from).toBe(envelope.from);
    expect(got.to).toEqual(envelope.to);
    // smtp-server undoes the dot-stuffing and drops the final ".": what is left is our bytes.
    expect(sha256(got.raw)).toBe(sha256(raw));

    const [a, b] = await Promise.all([simpleParser(raw), simpleParser(got.raw)]);
    expect(b.messageId).toBe(a.messageId);
    expect(b.subject).toBe(m.subject);
    expect(b.attachments.map((x) => [x.filename, sha256(x.content)])).toEqual(a.attachments.map((x) => [x.filename, sha256(x.content)]));
    expect(b.headers.has('x-mailer')).toBe(false); // nodemailer adds nothing to a raw message
  });

  it('sends a streamed message (a stored zip read as it goes out) byte for byte', async () => {
    const server = await startServer();
    const m = message();
    const raw = await buildMessage(m);
    const streamed = { stream: streamMessage({ ...m, attachments: [{ filename: 'Пакет документов DL-2026-00042.zip', stream: Readable.from([zip]), contentType: 'application/zip' }, { filename: 'Паспорт заёмщика (скан) — стр. 2–3.pdf', stream: createReadStream(scanPath) }] }), date: m.date };
    await transport({ port: server.port }).send(streamed, envelope, m.messageId);
    expect(sha256(server.received[0]!.raw)).toBe(sha256(raw));
  });

  it('survives lines that start with a dot (dot-transparency)', async () => {
    const server = await startServer();
    const m = message({ text: 'Список:\n.\n..точка в начале строки\n.\n', html: undefined, attachments: [] });
    const raw = await buildMessage({ ...m });
    const t = transport({ port: server.port });
    await t.send(raw, envelope, m.messageId);
    expect(sha256(server.received[0]!.raw)).toBe(sha256(raw));
    expect((await simpleParser(server.received[0]!.raw)).text).toBe(m.text);
  });

  it('treats a partly rejected recipient list as sent and reports the refusals', async () => {
    const server = await startServer({
      onRcptTo(address, _session, callback) {
        callback(address.address === 'nobody@bank.example' ? smtpError(550, '5.1.1 <nobody@bank.example>: mailbox unavailable') : null);
      },
    });
    const m = message();
    const raw = await buildMessage(m);
    const result = await transport({ port: server.port }).send(raw, { from: envelope.from, to: ['ivanov@bank.example', 'nobody@bank.example'] }, m.messageId);
    expect(result.accepted).toEqual(['ivanov@bank.example']);
    expect(result.rejected).toEqual(['nobody@bank.example']);
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.to).toEqual(['ivanov@bank.example']);
  });

  it('451 at RCPT TO: temporary, with the server text', async () => {
    const server = await startServer({
      onRcptTo(_address, _session, callback) {
        callback(smtpError(451, '4.7.1 Greylisted, please try again later'));
      },
    });
    const err = await sendError(transport({ port: server.port }).send(await buildMessage(message()), envelope, 'x'));
    expect(err.permanent).toBe(false);
    expect(err.responseCode).toBe(451);
    expect(err.response).toContain('Greylisted, please try again later');
    expect(server.received).toHaveLength(0);
  });

  it('451 after DATA: temporary', async () => {
    const server = await startServer({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(smtpError(451, '4.3.0 Local error in processing')));
      },
    });
    const err = await sendError(transport({ port: server.port }).send(await buildMessage(message()), envelope, 'x'));
    expect(err).toMatchObject({ permanent: false, responseCode: 451 });
    expect(err.response).toContain('Local error in processing');
  });

  it('550 after DATA: permanent', async () => {
    const server = await startServer({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(smtpError(550, '5.7.1 Message rejected as spam')));
      },
    });
    const err = await sendError(transport({ port: server.port }).send(await buildMessage(message()), envelope, 'x'));
    expect(err).toMatchObject({ permanent: true, responseCode: 550 });
    expect(err.response).toContain('Message rejected as spam');
  });

  it('550 for every recipient: permanent', async () => {
    const server = await startServer({
      onRcptTo(_address, _session, callback) {
        callback(smtpError(550, '5.1.1 No such user'));
      },
    });
    const err = await sendError(transport({ port: server.port }).send(await buildMessage(message()), envelope, 'x'));
    expect(err).toMatchObject({ permanent: true, responseCode: 550 });
  });

  it('a closed port: temporary (connection refused)', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const err = await sendError(transport({ port }).send(await buildMessage(message()), envelope, 'x'));
    expect(err.permanent).toBe(false);
    expect(['ECONNECTION', 'ESOCKET']).toContain(err.code);
    expect(err.responseCode).toBeUndefined();
    await expect(transport({ port }).verify()).rejects.toMatchObject({ permanent: false });
  });

  it('a server that never answers: temporary (timeout)', async () => {
    const silent = net.createServer(() => {}); // accepts the connection, never greets
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const err = await sendError(transport({ port, timeoutMs: 300 }).send(await buildMessage(message()), envelope, 'x'));
      expect(err).toMatchObject({ permanent: false, code: 'ETIMEDOUT' });
    } finally {
      silent.close();
      for (const t of transports.splice(0)) t.close();
    }
  });

  describe('STARTTLS and AUTH', () => {
    const tlsServer = () =>
      startServer({
        authOptional: false,
        onAuth(auth, _session, callback) {
          if (auth.username === 'dossier' && auth.password === 'correct horse') callback(null, { user: 'dossier' });
          else callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
        },
      });

    it('sends over STARTTLS with a self-signed certificate when allowed, and logs in', async () => {
      const server = await tlsServer();
      const t = transport({ port: server.port, security: 'starttls', allowSelfSigned: true, user: 'dossier', password: 'correct horse' });
      await t.verify();
      const m = message();
      const raw = await buildMessage(m);
      await t.send(raw, envelope, m.messageId);
      expect(server.received[0]!.session.secure).toBe(true);
      expect(server.received[0]!.session.user).toBe('dossier');
      expect(sha256(server.received[0]!.raw)).toBe(sha256(raw));
    });

    it('refuses the self-signed certificate by default', async () => {
      const server = await tlsServer();
      const err = await sendError(transport({ port: server.port, security: 'starttls', user: 'dossier', password: 'correct horse' }).send(await buildMessage(message()), envelope, 'x'));
      expect(err.permanent).toBe(false);
      expect(err.message).toMatch(/certificate/i);
      expect(server.received).toHaveLength(0);
    });

    it('wrong password: permanent (535)', async () => {
      const server = await tlsServer();
      const t = transport({ port: server.port, security: 'starttls', allowSelfSigned: true, user: 'dossier', password: 'wrong' });
      const err = await sendError(t.send(await buildMessage(message()), envelope, 'x'));
      expect(err).toMatchObject({ permanent: true, responseCode: 535, code: 'EAUTH' });
      expect(err.response).toContain('Authentication credentials invalid');
      await expect(t.verify()).rejects.toMatchObject({ permanent: true, responseCode: 535 });
    });

    it("'starttls' does not fall back to clear text when the server offers no STARTTLS", async () => {
      const server = await startServer({ disabledCommands: ['STARTTLS'] });
      const err = await sendError(transport({ port: server.port, security: 'starttls', allowSelfSigned: true }).send(await buildMessage(message()), envelope, 'x'));
      expect(err.message).toMatch(/STARTTLS/);
      expect(server.received).toHaveLength(0);
    });

    it('implicit TLS and a connection pool', async () => {
      const server = await startServer({ secure: true });
      const t = transport({ port: server.port, security: 'tls', allowSelfSigned: true, pool: true });
      const messages = await Promise.all([1, 2, 3].map((i) => buildMessage(message({ messageId: newMessageId('dossier.example', i) }))));
      await Promise.all(messages.map((raw, i) => t.send(raw, envelope, `m${i}`)));
      expect(server.received.map((r) => sha256(r.raw)).sort()).toEqual(messages.map(sha256).sort());
      expect(server.received.every((r) => r.session.secure)).toBe(true);
    });
  });
});

describe('fileTransport', () => {
  it('writes one file per Message-ID, atomically and idempotently', async () => {
    const dir = path.join(tmp, 'outbox-files');
    const t = fileTransport(dir);
    await t.verify();
    const m = message();
    const raw = await buildMessage(m);
    const first = await t.send(raw, envelope, m.messageId);
    const second = await t.send(raw, envelope, m.messageId);
    expect(second.response).toBe(first.response);
    expect(first.accepted).toEqual(envelope.to);

    // The folder is the message's own Date (UTC), not the day of the attempt.
    expect(await readdir(dir)).toEqual(['2026-11-21']);
    const files = await readdir(path.join(dir, '2026-11-21'));
    const name = `${m.messageId.slice(1, -1)}.eml`;
    expect(files).toEqual([name]); // no second copy, no temp files left behind
    const stored = await readFile(path.join(dir, '2026-11-21', name));
    expect(stored.equals(raw)).toBe(true);

    const p = await simpleParser(stored);
    expect(p.messageId).toBe(m.messageId);
    expect(p.subject).toBe(m.subject);
    const z = p.attachments.find((a) => a.filename?.endsWith('.zip'));
    expect(z?.contentType).toBe('application/zip');
    expect(z?.content.equals(zip)).toBe(true);
    expect(z?.content.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
  });

  it('writes a streamed message to the same file as its built bytes', async () => {
    const dir = path.join(tmp, 'outbox-streamed');
    const t = fileTransport(dir);
    const m = message();
    const raw = await buildMessage(m);
    const stream = streamMessage({ ...m, attachments: [{ filename: 'Пакет документов DL-2026-00042.zip', stream: Readable.from([zip]), contentType: 'application/zip' }, { filename: 'Паспорт заёмщика (скан) — стр. 2–3.pdf', stream: createReadStream(scanPath) }] });
    await t.send({ stream, date: m.date }, envelope, m.messageId);
    const stored = await readFile(path.join(dir, '2026-11-21', `${m.messageId.slice(1, -1)}.eml`));
    expect(sha256(stored)).toBe(sha256(raw));
  });

  it('a rebuilt message for the same id replaces the file rather than adding one', async () => {
    const dir = path.join(tmp, 'outbox-rebuilt');
    const t = fileTransport(dir);
    const id = newMessageId('dossier.example', 7);
    await t.send(await buildMessage(message({ messageId: id, text: 'first\n' })), envelope, id);
    const second = await buildMessage(message({ messageId: id, text: 'second\n' }));
    await t.send(second, envelope, id);
    const files = await readdir(path.join(dir, '2026-11-21'));
    expect(files).toHaveLength(1);
    expect((await readFile(path.join(dir, '2026-11-21', files[0]!))).equals(second)).toBe(true);
  });

  it('makes safe, distinct file names from odd Message-IDs', async () => {
    const dir = path.join(tmp, 'outbox-odd');
    const t = fileTransport(dir);
    const raw = await buildMessage(message({ attachments: [] }));
    await t.send(raw, envelope, '<../../etc/passwd@evil>');
    await t.send(raw, envelope, '<.._.._etc_passwd@evil>');
    const files = (await readdir(path.join(dir, '2026-11-21'))).sort();
    expect(files).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9._@+-]+\.eml$/);
    expect(files.some((f) => f.startsWith('.'))).toBe(false);
    expect(await readdir(dir)).toEqual(['2026-11-21']); // nothing escaped the folder
  });

  it('refuses an empty envelope', async () => {
    const err = await sendError(fileTransport(path.join(tmp, 'x')).send(Buffer.from('x'), { from: 'a@b', to: [] }, '<a@b>'));
    expect(err.permanent).toBe(true);
  });
});

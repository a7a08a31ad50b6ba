import { randomBytes } from 'node:crypto';
// Hand-written messages for the intake tests, as mail clients write them (CRLF line endings).

export const AR_PASS = 'Authentication-Results: mx.dossier.example; dkim=pass header.d=dossier.example header.s=mail; spf=pass smtp.mailfrom=dossier.example; dmarc=pass header.from=dossier.example';
/** The Received our test MTA adds; an Authentication-Results counts only above it (src/inbound/verify.ts). */
export const MTA_RECEIVED = 'Received: from mail.dossier.example (mail.dossier.example [10.0.0.5]) by mx.dossier.example with ESMTPS; Wed, 18 Nov 2026 09:00:01 +0300';

export function eml(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

/**
 * One attached file of a multipart/mixed message, as Outlook and Thunderbird write it: its delimiter,
 * Content-Type with name, Content-Disposition with filename, base64 in 76-column lines. `name` goes in
 * as written (already an encoded-word when it is not ASCII).
 */
export function filePart(boundary: string, name: string, bytes: Buffer, contentType = 'application/pdf'): string[] {
  return [`--${boundary}`, `Content-Type: ${contentType}; name="${name}"`, `Content-Disposition: attachment; filename="${name}"`, 'Content-Transfer-Encoding: base64', '', ...(bytes.toString('base64').match(/.{1,76}/g) ?? [])];
}

const b64 = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;

/** A manager's Outlook (RU) inline forward of a bank's mail, with her command on top. */
export function outlookForward(o: { command: string; bankFrom: string; bankName: string; bankSubject: string; bankText: string; id: string; auth?: string | null; from?: string }): Buffer {
  return eml([
    ...(o.auth === null ? [] : [o.auth ?? AR_PASS]),
    'Received: from mail.dossier.example (mail.dossier.example [10.0.0.5]) by mx.dossier.example with ESMTPS; Mon, 16 Nov 2026 10:15:03 +0300',
    `From: ${b64('Мария Кузнецова')} <${o.from ?? 'manager@dossier.example'}>`,
    'To: intake@dossier.example',
    `Subject: ${b64('FW: ' + o.bankSubject)}`,
    'Date: Mon, 16 Nov 2026 10:15:00 +0300',
    `Message-ID: <${o.id}@dossier.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Transfer-Encoding: 8bit',
    'X-Mailer: Microsoft Outlook 16.0',
    '',
    o.command,
    '',
    'С уважением,',
    'Мария Кузнецова',
    '',
    '-----Исходное сообщение-----',
    `От: ${o.bankName} <${o.bankFrom}>`,
    'Отправлено: 16 ноября 2026 г. 9:58',
    'Кому: Мария Кузнецова <manager@dossier.example>',
    `Тема: ${o.bankSubject}`,
    '',
    o.bankText,
  ]);
}

/** A manager's note about the client with one small document, different in each message. */
export function staffNote(i: number): Buffer {
  return eml([
    AR_PASS,
    MTA_RECEIVED,
    'From: manager@dossier.example',
    'To: intake@dossier.example',
    `Subject: =?UTF-8?B?${Buffer.from(`Смирнов Алексей Викторович — документ ${i}`).toString('base64')}?=`,
    `Message-ID: <note-${i}-${randomBytes(3).toString('hex')}@dossier.example>`,
    'Date: Wed, 18 Nov 2026 09:00:00 +0300',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="n"',
    '',
    '--n',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Прикладываю документ номер ${i}.`,
    '--n',
    `Content-Type: text/plain; name="doc-${i}.txt"`,
    'Content-Disposition: attachment',
    '',
    `Документ ${i}: ${randomBytes(8).toString('hex')}`,
    '--n--',
  ]);
}

// ---- forged staff mail -----------------------------------------------------------------------

/** Our MTA's verdict that the message failed: a forged pass lower down must not outweigh it. */
export const AR_OURS_FAIL = 'Authentication-Results: mx.dossier.example; dkim=fail header.d=dossier.example; dmarc=fail header.from=dossier.example';
/** The manager's forward of Bank Severny's approval, its header block rewritten by `edit`. */
export function forwardWithHeaders(id: string, edit: (headers: string[]) => string[], command = 'одобрено, сумма 9 900 000'): Buffer {
  const raw = outlookForward({
    id,
    auth: null,
    command,
    bankFrom: 'n.pavlova@bank-sever.example',
    bankName: 'Павлова Наталья Сергеевна',
    bankSubject: 'Решение по заявке Смирнов Алексей Викторович',
    bankText: 'По заявке клиента Смирнов Алексей Викторович принято положительное решение: сумма 9 900 000 руб.',
  }).toString('utf8');
  const end = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, end).split('\r\n').filter((h) => !h.startsWith('Received:'));
  return Buffer.from(edit(headers).join('\r\n') + raw.slice(end), 'utf8');
}
/** A header block (as lines) with its From: lines replaced by `from`. */
export const withFrom = (headers: string[], from: string[]) => headers.flatMap((h) => (h.startsWith('From:') ? from : [h]));

/**
 * Staff decisions forged in the header block, the ways an attacker tries: each rewrites the header
 * lines of the manager's real forward (AR_PASS above MTA_RECEIVED). None may authorise anything.
 */
export const STAFF_HEADER_FORGERIES: [string, (h: string[]) => string[]][] = [
  ['a sender-written Authentication-Results as the first header, no Received at all', (h) => [AR_PASS, ...h]],
  ['a sender-written pass below our MTA\'s Received', (h) => [MTA_RECEIVED, AR_PASS, ...h]],
  ['our MTA says dmarc=fail, ";dmarc=pass" inside a quoted reason', (h) => ['Authentication-Results: mx.dossier.example; dkim=fail header.d=dossier.example; dmarc=fail reason="x;dmarc=pass header.from=dossier.example" header.from=dossier.example', MTA_RECEIVED, ...h]],
  ['our MTA says dmarc=fail, ";dmarc=pass" inside a quoted smtp.mailfrom', (h) => ['Authentication-Results: mx.dossier.example; spf=pass smtp.mailfrom="a;dmarc=pass header.from=dossier.example"@evil.example; dmarc=fail header.from=dossier.example', MTA_RECEIVED, ...h]],
  ['our MTA says dmarc=none, "dmarc=pass" inside a comment', (h) => ['Authentication-Results: mx.dossier.example; dmarc=none (;dmarc=pass header.from=dossier.example) header.from=dossier.example', MTA_RECEIVED, ...h]],
  ['dmarc=pass for an unaligned header.from (evil.example)', (h) => ['Authentication-Results: mx.dossier.example; dmarc=pass header.from=evil.example', MTA_RECEIVED, ...h]],
  ['dkim=pass for an unaligned header.d', (h) => ['Authentication-Results: mx.dossier.example; dkim=pass header.d=evil.example', MTA_RECEIVED, ...h]],
  ['dmarc=pass for a look-alike domain', (h) => ['Authentication-Results: mx.dossier.example; dmarc=pass header.from=dossier.example.evil.example', MTA_RECEIVED, ...h]],
  ['a look-alike authserv-id', (h) => [AR_PASS.replace('mx.dossier.example;', 'mx.dossier.example.evil.example;'), MTA_RECEIVED, ...h]],
  ['our authserv-id with a trailing dot', (h) => [AR_PASS.replace('mx.dossier.example;', 'mx.dossier.example.;'), MTA_RECEIVED, ...h]],
  ['our authserv-id only inside a comment', (h) => [AR_PASS.replace('mx.dossier.example;', 'mx.evil.example (mx.dossier.example);'), MTA_RECEIVED, ...h]],
  ['our MTA named only in a comment of the Received', (h) => [AR_PASS, 'Received: from evil.example (by mx.dossier.example) by mx.evil.example; Mon, 16 Nov 2026 10:15:03 +0300', ...h]],
  ['an unreadable header of ours (unclosed quote)', (h) => ['Authentication-Results: mx.dossier.example; dmarc=pass header.from=dossier.example reason="open', MTA_RECEIVED, ...h]],
  ['our MTA says fail on top; a forged pass lower, above a forged Received of ours', (h) => [AR_OURS_FAIL, MTA_RECEIVED, AR_PASS, MTA_RECEIVED, ...h]],
  ['two From addresses in one header', (h) => withFrom([AR_PASS, MTA_RECEIVED, ...h], ['From: manager@dossier.example, attacker@evil.example'])],
  ['two From headers', (h) => withFrom([AR_PASS, MTA_RECEIVED, ...h], ['From: manager@dossier.example', 'From: attacker@evil.example'])],
  ['a group hiding a second address', (h) => withFrom([AR_PASS, MTA_RECEIVED, ...h], ['From: staff: manager@dossier.example, attacker@evil.example;'])],
  ['the manager\'s address only as a display name', (h) => withFrom([AR_PASS, MTA_RECEIVED, ...h], ['From: "manager@dossier.example" <attacker@evil.example>'])],
  ['Sender: the manager, From: the attacker', (h) => withFrom([AR_PASS, MTA_RECEIVED, ...h], ['From: attacker@evil.example', 'Sender: manager@dossier.example'])],
  ['the manager\'s address in capitals, no authentication at all', (h) => withFrom(h, ['From: MANAGER@DOSSIER.EXAMPLE'])],
  ['a dmarc=pass for the staff domain from a public provider\'s address', (h) => withFrom([AR_PASS, MTA_RECEIVED, ...h], ['From: manager.dossier@mail.ru'])],
];

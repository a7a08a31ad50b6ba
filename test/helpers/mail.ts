import { randomBytes } from 'node:crypto';
// Hand-written messages for the intake tests, as mail clients write them (CRLF line endings).

export const AR_PASS = 'Authentication-Results: mx.dossier.example; dkim=pass header.d=dossier.example header.s=mail; spf=pass smtp.mailfrom=dossier.example; dmarc=pass header.from=dossier.example';
/** The Received our test MTA adds; an Authentication-Results counts only above it (src/inbound/verify.ts). */
export const MTA_RECEIVED = 'Received: from mail.dossier.example (mail.dossier.example [10.0.0.5]) by mx.dossier.example with ESMTPS; Wed, 18 Nov 2026 09:00:01 +0300';

export function eml(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
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


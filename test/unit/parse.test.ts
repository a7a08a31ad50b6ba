import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifyAuto, parseMessage, stripSubjectPrefixes, type ParseLimits } from '../../src/inbound/parse.js';

// Incoming mail as real clients write it. The .eml files in parse-cases/ are whole messages
// (Outlook, Thunderbird, Gmail, Apple Mail, mail.ru, Yandex, Postfix, Exchange, exim); the
// charset and limit cases are built here, where the bytes have to be exact.

const cases = path.join(path.dirname(fileURLToPath(import.meta.url)), 'parse-cases');
const MB = 1024 * 1024;
const LIMITS: ParseLimits = { maxAttachmentBytes: 25 * MB, maxMessageBytes: 50 * MB, maxAttachments: 20 };
const load = (name: string, limits = LIMITS) => parseMessage(readFileSync(path.join(cases, name)), limits);

/** Encoder for a single-byte charset, from TextDecoder's own table (Node has no windows-1251 encoder). */
function encoder(charset: string): (s: string) => Buffer {
  const table = new Map<string, number>();
  for (let b = 0x80; b <= 0xff; b++) table.set(new TextDecoder(charset).decode(Uint8Array.of(b)), b);
  return (s) => Buffer.from([...s].map((c) => (c.charCodeAt(0) < 0x80 ? c.charCodeAt(0) : (table.get(c) ?? 0x3f))));
}
const cp1251 = encoder('windows-1251');
const koi8 = encoder('koi8-r');

/** A message from header lines and a body (string = UTF-8, Buffer = exact bytes), CRLF line ends. */
function mail(headers: string[], body: string | Buffer = ''): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body.replace(/\r?\n/g, '\r\n')) : body;
  return Buffer.concat([Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), bytes]);
}
const BASE = ['From: Petr Petrov <p.petrov@dealer-avto.ru>', 'To: intake@dossier.dealer-avto.ru', 'Date: Fri, 21 Nov 2026 11:00:00 +0300', 'Message-ID: <t-1@dealer-avto.ru>', 'MIME-Version: 1.0'];
const plain = (subject: string, body: string, extra: string[] = []) =>
  parseMessage(mail([...BASE, `Subject: ${subject}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', ...extra], body), LIMITS);
const bytesMessage = (contentType: string, body: Buffer) =>
  parseMessage(mail([...BASE, 'Subject: test', `Content-Type: ${contentType}`, 'Content-Transfer-Encoding: 8bit'], body), LIMITS);

const RUSSIAN = 'Добрый день! Заявка одобрена, кредитный договор направим завтра. Сумма кредита составляет один миллион рублей.';

describe('encodings', () => {
  it('decodes RFC 2047 encoded-words: UTF-8 and windows-1251, B and Q, KOI8-R names, a character split between words', async () => {
    const m = await parseMessage(
      mail([
        `From: =?windows-1251?Q?${[...cp1251('Кредитный отдел')].map((b) => (b === 0x20 ? '_' : `=${b.toString(16).toUpperCase()}`)).join('')}?= <credit@bank-sever.ru>`,
        `To: =?koi8-r?B?${koi8('Петров Петр').toString('base64')}?= <p.petrov@dealer-avto.ru>, "=?utf-8?B?${Buffer.from('Иванов').toString('base64')}?=" <ivanov@dealer-avto.ru>`,
        `Cc: =?UTF-8?Q?=D0=A1=D0=BC=D0=B8=D1=80=D0=BD=D0=BE=D0=B2=D0=B0_=D0=90=D0=BD=D0=BD=D0=B0?= <a.smirnova@mail.ru>`,
        // "Решение" split in the middle of "ш" (0xD1 0x88) between two words, as some encoders do.
        `Subject: =?windows-1251?B?${cp1251('Отв: ').toString('base64')}?= =?utf-8?B?${Buffer.from('Решение').subarray(0, 5).toString('base64')}?=\r\n =?utf-8?B?${Buffer.from('Решение').subarray(5).toString('base64')}?= по заявке`,
        'Date: Fri, 21 Nov 2026 11:00:00 +0300',
        'Content-Type: text/plain; charset=utf-8',
      ], 'Текст'),
      LIMITS,
    );
    expect(m.from).toEqual({ name: 'Кредитный отдел', address: 'credit@bank-sever.ru' });
    expect(m.to).toEqual([{ name: 'Петров Петр', address: 'p.petrov@dealer-avto.ru' }, { name: 'Иванов', address: 'ivanov@dealer-avto.ru' }]);
    expect(m.cc).toEqual([{ name: 'Смирнова Анна', address: 'a.smirnova@mail.ru' }]);
    expect(m.subject).toBe('Отв: Решение по заявке');
    expect(m.subjectCore).toBe('Решение по заявке');
    expect(m.warnings).toEqual([]);

    const outlook = await load('outlook-fw-ru-html.eml'); // windows-1251 subject, KOI8-R sender name
    expect(outlook.subject).toBe('FW: Решение по заявке А-2026-1234');
    expect(outlook.from).toEqual({ name: 'Петров Петр', address: 'p.petrov@dealer-avto.ru' });
  });

  it('reads bodies in windows-1251 and KOI8-R when declared correctly, without warnings', async () => {
    const mailru = await load('mailru-fwd.eml'); // text/plain; charset=windows-1251, 8bit
    expect(mailru.ownText).toBe('Добрый день, пересылаю письмо банка.');
    expect(mailru.warnings).toEqual([]);
    const outlook = await load('outlook-attached-rfc822.eml'); // KOI8-R outside, windows-1251 inside, both quoted-printable
    expect(outlook.ownText).toBe('Подписанный договор во вложении. Статус: договор подписан.');
    expect(outlook.forwarded?.text).toBe('Добрый день!\nНаправляем кредитный договор для подписания.\n\nКредитный отдел');
    expect(outlook.warnings).toEqual([]);
    expect((await bytesMessage('text/plain; charset="KOI8-R"', koi8(RUSSIAN))).text).toBe(RUSSIAN);
    expect((await bytesMessage('text/plain; charset=cp1251', cp1251(RUSSIAN))).text).toBe(RUSSIAN);
  });

  it('decodes RFC 2231 file names, with continuations, in UTF-8 and windows-1251', async () => {
    const tb = await load('thunderbird-fwd-ru.eml');
    expect(tb.attachments.map((a) => a.fileName)).toEqual(['Решение.pdf', 'Кредитный договор № 12 от 21.11.2026.docx']);
    expect(tb.attachments.map((a) => a.originalName)).toEqual(['Решение.pdf', 'Кредитный договор № 12 от 21.11.2026.docx']);

    const m = await parseMessage(
      mail([...BASE, 'Subject: scan', 'Content-Type: multipart/mixed; boundary="x"'], [
        '--x', 'Content-Type: text/plain; charset=utf-8', '', 'Счёт во вложении.',
        '--x', "Content-Type: application/pdf", `Content-Disposition: attachment; filename*=windows-1251''${[...cp1251('Счёт №5.pdf')].map((b) => `%${b.toString(16).toUpperCase()}`).join('')}`,
        'Content-Transfer-Encoding: base64', '', Buffer.from('%PDF-1.4\n%%EOF\n').toString('base64'),
        '--x--', '',
      ].join('\r\n')),
      LIMITS,
    );
    expect(m.attachments.map((a) => [a.fileName, a.contentType])).toEqual([['Счёт №5.pdf', 'application/pdf']]);
  });

  it('guesses a missing charset: strict UTF-8 first, then windows-1251 or KOI8-R by Russian letter frequencies', async () => {
    const win = await bytesMessage('text/plain', cp1251(RUSSIAN));
    expect(win.text).toBe(RUSSIAN);
    expect(win.warnings).toEqual(['Text (text/plain): no charset declared for 8-bit text; read as windows-1251 (by Russian letter frequencies).']);
    const k = await bytesMessage('text/plain', koi8(RUSSIAN));
    expect(k.text).toBe(RUSSIAN);
    expect(k.warnings).toEqual(['Text (text/plain): no charset declared for 8-bit text; read as koi8-r (by Russian letter frequencies).']);
    const utf = await bytesMessage('text/plain', Buffer.from(RUSSIAN));
    expect(utf.text).toBe(RUSSIAN);
    expect(utf.warnings).toEqual(['Text (text/plain): no charset declared for 8-bit text; read as UTF-8.']);
    // No Content-Type at all, and an HTML part whose charset is only in <meta>.
    const bare = await parseMessage(mail([...BASE, 'Subject: x'], cp1251(RUSSIAN)), LIMITS);
    expect(bare.text).toBe(RUSSIAN);
    const html = await bytesMessage('text/html', Buffer.concat([Buffer.from('<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r"></head><body><p>'), koi8(RUSSIAN), Buffer.from('</p></body></html>')]));
    expect(html.text).toBe(RUSSIAN);
    expect(html.warnings).toEqual([]);
  });

  it('repairs a wrong charset (KOI8-R or UTF-8 sent as windows-1251, windows-1251 sent as UTF-8 or KOI8-R) with a warning', async () => {
    const koiAs1251 = await bytesMessage('text/plain; charset=windows-1251', koi8(RUSSIAN));
    expect(koiAs1251.text).toBe(RUSSIAN);
    expect(koiAs1251.warnings).toEqual(['Text (text/plain): declared windows-1251 but the text reads as koi8-r; repaired.']);
    const utfAs1251 = await bytesMessage('text/plain; charset=windows-1251', Buffer.from(RUSSIAN));
    expect(utfAs1251.text).toBe(RUSSIAN);
    expect(utfAs1251.warnings).toEqual(['Text (text/plain): declared windows-1251 but the bytes are UTF-8; repaired.']);
    const winAsUtf = await bytesMessage('text/plain; charset=utf-8', cp1251(RUSSIAN));
    expect(winAsUtf.text).toBe(RUSSIAN);
    expect(winAsUtf.warnings).toEqual(['Text (text/plain): declared UTF-8 but the bytes are not UTF-8; read as windows-1251.']);
    const winAsKoi = await bytesMessage('text/plain; charset=koi8-r', cp1251(RUSSIAN));
    expect(winAsKoi.text).toBe(RUSSIAN);
    const winAsLatin1 = await bytesMessage('text/plain; charset=iso-8859-1', cp1251(RUSSIAN));
    expect(winAsLatin1.text).toBe(RUSSIAN);
    // A wrong declaration inside an encoded-word is repaired too.
    const subj = await parseMessage(mail([...BASE, `Subject: =?windows-1251?B?${koi8('Решение по заявке заемщика').toString('base64')}?=`, 'Content-Type: text/plain; charset=utf-8'], 'x'), LIMITS);
    expect(subj.subject).toBe('Решение по заявке заемщика');
    expect(subj.warnings).toEqual(['Subject: declared windows-1251 but the text reads as koi8-r; repaired.']);
  });

  it('keeps the declared charset when the text is genuinely in it', async () => {
    const german = 'Sehr geehrte Damen und Herren, anbei die Unterlagen für den Antrag. Grüße aus München, à bientôt!';
    const latin = await bytesMessage('text/plain; charset=iso-8859-1', Buffer.from(german, 'latin1'));
    expect(latin.text).toBe(german);
    expect(latin.warnings).toEqual([]);
    const short = await bytesMessage('text/plain; charset=windows-1251', cp1251('Да'));
    expect(short.text).toBe('Да');
  });

  it('reads raw 8-bit header text without encoded-words (old clients), with a warning for windows-1251', async () => {
    const m = await parseMessage(
      Buffer.concat([Buffer.from('From: '), cp1251('Петров Петр'), Buffer.from(' <p.petrov@dealer-avto.ru>\r\nSubject: '), cp1251('Отв: Документы по сделке заемщика'), Buffer.from('\r\nContent-Type: text/plain; charset=windows-1251\r\n\r\n'), cp1251('Да')]),
      LIMITS,
    );
    expect(m.subject).toBe('Отв: Документы по сделке заемщика');
    expect(m.from).toEqual({ name: 'Петров Петр', address: 'p.petrov@dealer-avto.ru' });
    expect(m.warnings).toContain('The subject header has raw 8-bit text without a charset; read as windows-1251.');
    const utf8 = await parseMessage(mail(['From: a@b.ru', 'Subject: Ответ: Документы', 'Content-Type: text/plain; charset=utf-8'], 'Да'), LIMITS);
    expect(utf8.subject).toBe('Ответ: Документы');
    expect(utf8.warnings).toEqual([]); // raw UTF-8 headers are allowed (RFC 6532)
  });
});

describe('forwards', () => {
  it('Outlook, English, "-----Original Message-----" in plain text', async () => {
    const m = await load('outlook-fw-en.eml');
    expect(m.subjectCore).toBe('[DL-2026-00042 k7f3q9] Decision on application A-2026-1234');
    expect(m.ownText).toBe('Approved - please move the deal to signing.'); // the "-- " signature is gone
    expect(m.forwarded).toMatchObject({
      kind: 'inline',
      from: { name: 'Credit Department', address: 'credit@bank-sever.ru' },
      to: [{ name: 'Petrov Petr', address: '' }],
      subject: 'Decision on application A-2026-1234',
      text: 'Dear Petr,\n\nThe application A-2026-1234 (borrower Smirnov A. V.) is approved: amount 1,500,000 RUB, term 60 months, rate 14.9%.\n\nBest regards,\nCredit Department, Bank Severny',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z'); // 10:15 AM, Moscow time assumed
  });

  it('Outlook, Russian, HTML only: From/Отправлено block under a border, logo inline, PDF attached', async () => {
    const m = await load('outlook-fw-ru-html.eml');
    expect(m.ownText).toBe('Коллеги, банк одобрил заявку. Статус: одобрено.\n\nС уважением,\nПетр Петров\nменеджер отдела продаж');
    expect(m.forwarded).toMatchObject({
      kind: 'inline',
      from: { name: 'Кредитный отдел Банк Северный', address: 'credit@bank-sever.ru' },
      to: [{ name: 'Петров Петр', address: 'p.petrov@dealer-avto.ru' }],
      subject: 'Решение по заявке А-2026-1234',
      text: 'Добрый день, Петр!\n\nЗаявка А-2026-1234 (заемщик Смирнов А. В.) одобрена на сумму 1 500 000 руб. Решение во вложении.',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
    // The whole HTML as text: no markup, styles, conditional comments or entities left.
    expect(m.text).toBe([
      'Коллеги, банк одобрил заявку. Статус: одобрено.', '', 'С уважением,', 'Петр Петров', 'менеджер отдела продаж', '',
      'От: Кредитный отдел Банк Северный <credit@bank-sever.ru>', 'Отправлено: пятница, 21 ноября 2026 г. 10:15',
      'Кому: Петров Петр <p.petrov@dealer-avto.ru>', 'Тема: Решение по заявке А-2026-1234', '', 'Добрый день, Петр!', '',
      'Заявка А-2026-1234 (заемщик Смирнов А. В.) одобрена на сумму 1 500 000 руб. Решение во вложении.',
    ].join('\n'));
    expect(m.attachments.map((a) => ({ name: a.fileName, type: a.contentType, inline: a.inline }))).toEqual([
      { name: 'image001.png', type: 'image/png', inline: true },
      { name: 'Решение по заявке.pdf', type: 'application/pdf', inline: false },
    ]);
  });

  it('Outlook, Russian, plain text: "-----Исходное сообщение-----" with От/Отправлено/Кому/Тема', async () => {
    const m = await plain('FW: Решение по заявке', [
      'Одобрено, переводите в работу.', '',
      '-----Исходное сообщение-----',
      'От: Кредитный отдел [mailto:credit@bank-sever.ru] ',
      'Отправлено: 21 ноября 2026 г. 10:15',
      'Кому: Петров Петр; Смирнова Анна <a.smirnova@dealer-avto.ru>',
      'Копия: Иванов Иван',
      'Тема: Решение по заявке', '',
      'Заявка одобрена.',
    ].join('\n'));
    expect(m.ownText).toBe('Одобрено, переводите в работу.');
    expect(m.forwarded).toMatchObject({
      from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' },
      to: [{ name: 'Петров Петр', address: '' }, { name: 'Смирнова Анна', address: 'a.smirnova@dealer-avto.ru' }],
      subject: 'Решение по заявке',
      text: 'Заявка одобрена.',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
  });

  it('Thunderbird, Russian, format=flowed: "-------- Пересылаемое сообщение --------" with Тема/Дата/От/Кому', async () => {
    const m = await load('thunderbird-fwd-ru.eml');
    expect(m.subject).toBe('Fwd: Решение по заявке А-2026-1234');
    // The flowed line break after "на " is joined; the "-- " signature is removed.
    expect(m.ownText).toBe('Прошу перевести сделку в статус «Одобрено». Банк одобрил кредит на 1 500 000 руб.');
    expect(m.forwarded).toMatchObject({
      from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' },
      to: [{ name: '', address: 'p.petrov@dealer-avto.ru' }],
      subject: 'Решение по заявке А-2026-1234',
      text: 'Добрый день!\n\nЗаявка А-2026-1234 одобрена. Сумма 1 500 000 руб., срок 60 мес.\n\n--\nКредитный отдел\nАО «Банк Северный»',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:42.000Z');
  });

  it('Thunderbird, English: "-------- Forwarded Message --------"', async () => {
    const m = await plain('Fwd: Policy renewal', [
      'Please register the renewal.', '',
      '-------- Forwarded Message --------',
      'Subject: \tPolicy renewal KASKO 77-123456',
      'Date: \tFri, 21 Nov 2026 09:05:00 +0000',
      'From: \tInsurer Claims <claims@insurer.ru>',
      'To: \tp.petrov@dealer-avto.ru', '', '',
      'The policy is renewed until 21.11.2027.',
    ].join('\n'));
    expect(m.ownText).toBe('Please register the renewal.');
    expect(m.forwarded).toMatchObject({ from: { name: 'Insurer Claims', address: 'claims@insurer.ru' }, subject: 'Policy renewal KASKO 77-123456', text: 'The policy is renewed until 21.11.2027.' });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T09:05:00.000Z');
  });

  it('Gmail, Russian interface, "---------- Пересылаемое письмо ---------" (plain part preferred over HTML)', async () => {
    const m = await load('gmail-fwd-ru.eml');
    expect(m.ownText).toBe('Одобрено, меняйте статус.');
    expect(m.forwarded).toMatchObject({
      from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' },
      to: [{ name: 'Петров Петр', address: 'p.petrov@dealer-avto.ru' }],
      subject: 'Решение по заявке А-2026-1234',
      text: 'Добрый день!\n\nЗаявка А-2026-1234 одобрена.',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z'); // "пт, 21 нояб. 2026 г. в 10:15"
  });

  it('Gmail, English, "---------- Forwarded message ---------", HTML only', async () => {
    const html = '<div dir="ltr">Approved, status please.<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: <strong class="gmail_sendername" dir="auto">Bank Severny</strong> <span dir="auto">&lt;<a href="mailto:credit@bank-sever.ru">credit@bank-sever.ru</a>&gt;</span><br>Date: Fri, Nov 21, 2026 at 10:15 AM<br>Subject: Decision<br>To: &lt;<a href="mailto:p.petrov@dealer-avto.ru">p.petrov@dealer-avto.ru</a>&gt;<br></div><br><br><div dir="ltr">Approved for 1&nbsp;500&nbsp;000&nbsp;RUB.</div></div></div>';
    const m = await parseMessage(mail([...BASE, 'Subject: Fwd: Decision', 'Content-Type: text/html; charset="UTF-8"', 'Content-Transfer-Encoding: quoted-printable'], html.replace(/=/g, '=3D')), LIMITS);
    expect(m.ownText).toBe('Approved, status please.');
    expect(m.forwarded).toMatchObject({ from: { name: 'Bank Severny', address: 'credit@bank-sever.ru' }, to: [{ name: '', address: 'p.petrov@dealer-avto.ru' }], subject: 'Decision', text: 'Approved for 1 500 000 RUB.' });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
  });

  it('Apple Mail, English, "Begin forwarded message:" with the original quoted', async () => {
    const m = await load('apple-fwd-en.eml');
    expect(m.ownText).toBe('Approved, see below.'); // "Sent from my iPhone" dropped
    expect(m.forwarded).toMatchObject({
      from: { name: 'Credit Department', address: 'credit@bank-sever.ru' },
      subject: 'Decision on application A-2026-1234',
      text: 'Dear Petr,\nthe application A-2026-1234 is approved.',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:42.000Z'); // "at 10:15:42 GMT+3"
  });

  it('Apple Mail, Russian, "Начало переадресованного сообщения:"', async () => {
    const m = await plain('Fwd: Полис', [
      'Полис продлен.', '', 'Отправлено с iPhone', '',
      'Начало переадресованного сообщения:', '',
      '> От: Страховая компания <claims@insurer.ru>',
      '> Дата: 21 ноября 2026 г. в 10:15:00 GMT+3',
      '> Кому: Петров Петр <p.petrov@dealer-avto.ru>',
      '> Тема: Продление полиса', '> ',
      '> Полис КАСКО продлен до 21.11.2027.',
    ].join('\n'));
    expect(m.ownText).toBe('Полис продлен.');
    expect(m.forwarded).toMatchObject({ from: { name: 'Страховая компания', address: 'claims@insurer.ru' }, subject: 'Продление полиса', text: 'Полис КАСКО продлен до 21.11.2027.' });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
  });

  it('mail.ru: "<date> от <name> <addr>:" after the separator', async () => {
    const m = await load('mailru-fwd.eml');
    expect(m.subjectCore).toBe('Ваша заявка одобрена');
    expect(m.ownText).toBe('Добрый день, пересылаю письмо банка.');
    expect(m.forwarded).toMatchObject({
      from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' },
      subject: null,
      text: 'Уважаемая Анна Викторовна!\nВаша заявка одобрена.\n\n--\nС уважением,\nКредитный отдел АО «Банк Северный»',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
  });

  it('mail.ru: "От кого:/Кому:/Дата:/Тема:" variant', async () => {
    const m = await plain('Fwd: Решение', [
      'Статус: одобрено', '',
      '-------- Пересылаемое сообщение --------',
      'От кого: Кредитный отдел <credit@bank-sever.ru>',
      'Кому: a.smirnova@mail.ru',
      'Дата: Пятница, 21 ноября 2026, 10:15 +03:00',
      'Тема: Решение по заявке', '',
      'Заявка одобрена.',
    ].join('\n'));
    expect(m.ownText).toBe('Статус: одобрено');
    expect(m.forwarded).toMatchObject({ from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' }, to: [{ name: '', address: 'a.smirnova@mail.ru' }], subject: 'Решение по заявке', text: 'Заявка одобрена.' });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
  });

  it('Yandex: "-------- Начало пересылаемого сообщения --------" and "DD.MM.YYYY, HH:MM, "Name" <addr>:"', async () => {
    const m = await load('yandex-fwd.eml');
    expect(m.ownText).toBe('Статус: документы получены');
    expect(m.forwarded).toMatchObject({
      from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' },
      text: 'Добрый день!\nДокументы по сделке получены, замечаний нет.', // the end marker is not part of it
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
    const short = await plain('Fwd: Документы', 'Ок\n\n-------- Пересылаемое сообщение --------\n21.11.2026, 10:15, "Кредитный отдел" <credit@bank-sever.ru>:\nДокументы получены.\n');
    expect(short.forwarded).toMatchObject({ from: { address: 'credit@bank-sever.ru' }, text: 'Документы получены.' });
  });

  it('Outlook "forward as attachment": the attached message/rfc822 with its own files', async () => {
    const m = await load('outlook-attached-rfc822.eml');
    expect(m.subject).toBe('FW: Кредитный договор');
    expect(m.forwarded).toMatchObject({
      kind: 'rfc822',
      from: { name: 'Кредитный отдел', address: 'credit@bank-sever.ru' },
      to: [{ name: 'Петров Петр', address: 'p.petrov@dealer-avto.ru' }],
      subject: 'Кредитный договор по заявке А-2026-1234',
    });
    expect(m.forwarded?.date?.toISOString()).toBe('2026-11-21T07:15:42.000Z');
    expect(m.forwarded?.attachments.map((a) => [a.fileName, a.contentType])).toEqual([['Кредитный договор.pdf', 'application/pdf']]);
    // The message itself is kept whole (headers and all) as evidence.
    expect(m.attachments.map((a) => [a.fileName, a.contentType, a.declaredType])).toEqual([['Кредитный договор по заявке А-2026-1234.eml', 'message/rfc822', 'message/rfc822']]);
    expect(m.attachments[0]!.content.toString('latin1')).toContain('Message-ID: <bank-20261121-0042@mail.bank-sever.ru>');
  });
});

describe('replies', () => {
  it('Gmail, Russian: "пт, 21 нояб. 2026 г. в 10:15, Name <addr>:" and "> " lines are not own text', async () => {
    const m = await load('gmail-reply-ru.eml');
    expect(m.ownText).toBe('Да, документы получили, спасибо.\nПаспорт заемщика пришлем до понедельника.');
    expect(m.forwarded).toBeNull();
    expect(m.inReplyTo).toBe('<out.2026-00042.5@dossier.dealer-avto.ru>');
    expect(m.references).toEqual(['<out.2026-00042.1@dossier.dealer-avto.ru>', '<out.2026-00042.5@dossier.dealer-avto.ru>']);
    expect(m.subjectCore).toBe('[DL-2026-00042 k7f3q9] Документы');
  });

  it('Gmail, English: "On … wrote:" wrapped over two lines', async () => {
    const m = await plain('Re: [DL-2026-00042] Documents', [
      'Received, thank you.', '',
      'On Fri, Nov 21, 2026 at 10:15 AM Dossier Intake <',
      'intake+k7f3q9@dossier.dealer-avto.ru> wrote:', '',
      '> Please send the passport scan.',
    ].join('\n'));
    expect(m.ownText).toBe('Received, thank you.');
    expect(m.forwarded).toBeNull();
  });

  it('Thunderbird, Russian: "… пишет:" with answers between quoted lines', async () => {
    const m = await plain('Re: Документы', [
      '21.11.2026 10:15, Dossier пишет:',
      '> Паспорт получен?',
      'Да, получен.',
      '> Когда будет СНИЛС?',
      'Завтра.',
    ].join('\n'));
    // The attribution line is the first thing in the message: an interleaved reply keeps nothing above it.
    expect(m.ownText).toBe('');
    const bottom = await plain('Re: Документы', ['Иван Петров пишет:', '> Паспорт получен?', '', 'Да, получен.'].join('\n'));
    expect(bottom.ownText).toBe('');
    const inline = await plain('Re: Документы', ['> Паспорт получен?', 'Да, получен.', '> Когда будет СНИЛС?', 'Завтра.'].join('\n'));
    expect(inline.ownText).toBe('Да, получен.\nЗавтра.');
  });

  it('Apple Mail, Russian: "21 нояб. 2026 г., в 10:15, Name <addr> написал(а):"', async () => {
    const m = await plain('Re: Заявка', 'Подтверждаю.\n\n21 нояб. 2026 г., в 10:15, Кредитный отдел <credit@bank-sever.ru> написал(а):\n\n> Подтвердите сумму.\n');
    expect(m.ownText).toBe('Подтверждаю.');
  });

  it('Outlook reply: the original-message block is history, not a forward', async () => {
    const m = await plain('RE: Decision', [
      'Thank you, noted.', '',
      '________________________________',
      'From: Credit Department <credit@bank-sever.ru>',
      'Sent: Friday, November 21, 2026 10:15 AM',
      'To: Petr Petrov <p.petrov@dealer-avto.ru>',
      'Subject: Decision', '',
      'Approved.',
    ].join('\n'));
    expect(m.ownText).toBe('Thank you, noted.');
    expect(m.forwarded).toBeNull();
    const ru = await plain('RE: Решение', 'Спасибо.\n\n-----Исходное сообщение-----\nОт: Банк <credit@bank-sever.ru>\nОтправлено: 21 ноября 2026 г. 10:15\nТема: Решение\n\nОдобрено.');
    expect(ru.ownText).toBe('Спасибо.');
    expect(ru.forwarded).toBeNull();
  });

  it('does not take ordinary lines with a time and a colon for an attribution', async () => {
    const text = 'Звоните с 9:00 до 18:00 от понедельника до пятницы:\nтел. +7 495 123-45-67\nСтатус: одобрено';
    expect((await plain('Заявка', text)).ownText).toBe(text);
  });
});

describe('automatic mail', () => {
  const h = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([k, v]) => [k, [v]]));
  const TEXT = 'text/plain; charset=utf-8';

  it('bounces: DSN content type, MAILER-DAEMON and postmaster senders, a null sender with a bounce subject', () => {
    expect(classifyAuto(h({}), 'Undelivered Mail Returned to Sender', 'MAILER-DAEMON@mx.example.ru', 'multipart/report; report-type=delivery-status; boundary="x"')).toBe('bounce');
    expect(classifyAuto(h({}), 'Delivery Status Notification', 'someone@example.ru', 'multipart/report; report-type="delivery-status"; boundary=x')).toBe('bounce');
    expect(classifyAuto(h({}), 'Mail delivery failed', 'Mailer-Daemon@mail.insurer.ru', TEXT)).toBe('bounce');
    expect(classifyAuto(h({}), 'Undeliverable: Заявка', 'postmaster@bank-sever.ru', TEXT)).toBe('bounce');
    expect(classifyAuto(h({ 'return-path': '<>' }), 'Недоставленное сообщение: Заявка', 'mail@bank.ru', TEXT)).toBe('bounce');
  });

  it('auto-replies: Auto-Submitted (not "no"), X-Autoreply, X-Autorespond, Precedence auto_reply, read receipts, out-of-office subjects', () => {
    expect(classifyAuto(h({ 'auto-submitted': 'auto-replied' }), 'Re: Заявка', 'ivanov@bank.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({ 'auto-submitted': 'auto-generated' }), 'Уведомление', 'robot@bank.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({ 'auto-submitted': 'no' }), 'Заявка', 'ivanov@bank.ru', TEXT)).toBeNull();
    expect(classifyAuto(h({ 'x-autoreply': 'yes' }), 'Re: Заявка', 'ivanov@bank.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({ 'x-autorespond': 'Отпуск' }), 'Re: Заявка', 'ivanov@bank.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({ precedence: 'auto_reply' }), 'Re: Заявка', 'ivanov@bank.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({}), 'Прочитано: Заявка', 'ivanov@bank.ru', 'multipart/report; report-type=disposition-notification; boundary=x')).toBe('auto-reply');
    for (const subject of ['Автоответ: Заявка', 'Нет на месте', 'Out of Office: Application', 'Automatic reply: Documents', 'Автоматический ответ: [DL-2026-00042] Заявка', 'Abwesenheitsnotiz: Antrag', '[EXTERNAL] Out of the office']) {
      expect(classifyAuto(h({}), subject, 'ivanov@bank.ru', TEXT), subject).toBe('auto-reply');
    }
    expect(classifyAuto(h({}), 'Re: Out of office hours policy', 'ivanov@bank.ru', TEXT)).toBeNull();
  });

  it('X-Auto-Response-Suppress counts only with a robot sender (Outlook puts it on some ordinary mail too)', () => {
    expect(classifyAuto(h({ 'x-auto-response-suppress': 'All' }), 'Уведомление', 'noreply@bank-sever.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({ 'x-auto-response-suppress': 'All' }), 'Уведомление', 'no-reply@bank-sever.ru', TEXT)).toBe('auto-reply');
    expect(classifyAuto(h({ 'x-auto-response-suppress': 'All' }), 'Заявка', 'ivanov@bank-sever.ru', TEXT)).toBeNull();
  });

  it('lists: Precedence bulk/junk/list, List-Id, List-Unsubscribe; null for personal mail', () => {
    for (const p of ['bulk', 'junk', 'list', 'Bulk']) expect(classifyAuto(h({ precedence: p }), 'Новости', 'news@bank.ru', TEXT)).toBe('list');
    expect(classifyAuto(h({ 'list-id': '<dealers.bank-sever.ru>' }), 'Новости', 'news@bank.ru', TEXT)).toBe('list');
    expect(classifyAuto(h({ 'list-unsubscribe': '<mailto:unsub@bank.ru>' }), 'Новости', 'news@bank.ru', TEXT)).toBe('list');
    expect(classifyAuto(h({}), 'Re: Заявка', 'ivanov@bank.ru', TEXT)).toBeNull();
  });

  it('an Exchange out-of-office reply in Russian', async () => {
    const m = await load('ooo-exchange-ru.eml');
    expect(m.auto).toBe('auto-reply');
    expect(m.subject).toBe('Автоматический ответ: [DL-2026-00042 k7f3q9] Заявка');
    expect(m.bounce).toBeNull();
  });
});

describe('bounces', () => {
  it('Postfix DSN: recipient, status, diagnostic and the Message-ID of our returned message', async () => {
    const m = await load('dsn-postfix.eml');
    expect(m.auto).toBe('bounce');
    expect(m.bounce).toEqual({
      originalMessageId: '<out.2026-00042.9@dossier.dealer-avto.ru>',
      returnedSubject: '[DL-2026-00042 k7f3q9] Заявка',
      recipients: ['ivanov@bank-sever.ru'],
      deliveries: [{ address: 'ivanov@bank-sever.ru', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <ivanov@bank-sever.ru>: Recipient address rejected: User unknown in virtual mailbox table' }],
      status: '5.1.1',
      diagnostic: '550 5.1.1 <ivanov@bank-sever.ru>: Recipient address rejected: User unknown in virtual mailbox table',
    });
    expect(m.forwarded).toBeNull(); // the returned copy of our own message is no forward
    expect(m.attachments).toEqual([]);
    expect(m.ours).toBe(false); // our loop header is inside the returned copy, not on the bounce
  });

  it('Exchange NDR in Russian with text/rfc822-headers: only failed recipients', async () => {
    const m = await load('dsn-exchange-ru.eml');
    expect(m.auto).toBe('bounce');
    expect(m.bounce).toEqual({
      originalMessageId: '<out.2026-00042.11@dossier.dealer-avto.ru>',
      returnedSubject: '[DL-2026-00042] Заявка',
      recipients: ['sidorov@bank-sever.ru'],
      deliveries: [
        { address: 'sidorov@bank-sever.ru', action: 'failed', status: '5.1.10', diagnostic: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
        { address: 'kozlov@bank-sever.ru', action: 'delivered', status: '2.0.0', diagnostic: null }, // read whole: the delivered one is there too
      ],
      status: '5.1.10',
      diagnostic: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
    });
  });

  it('exim non-DSN bounce from Mailer-Daemon quoting our headers', async () => {
    const m = await load('exim-bounce.eml');
    expect(m.auto).toBe('bounce');
    expect(m.bounce).toEqual({
      originalMessageId: '<out.2026-00117.3@dossier.dealer-avto.ru>',
      returnedSubject: '[CL-2026-00117] Claim documents',
      recipients: ['claims@insurer.ru'],
      deliveries: [{ address: 'claims@insurer.ru', action: 'failed', status: null, diagnostic: 'mailbox is full: retry timeout exceeded' }],
      status: null,
      diagnostic: 'mailbox is full: retry timeout exceeded',
    });
    expect(m.deliveredTo).toEqual(['intake@dossier.dealer-avto.ru']); // Envelope-to
  });

  it('qmail-style bounce with "<addr>:" lines and an SMTP status', async () => {
    const m = await parseMessage(mail([
      'From: MAILER-DAEMON@mail.bank-sever.ru', 'To: intake@dossier.dealer-avto.ru', 'Subject: failure notice', 'Date: Fri, 21 Nov 2026 12:00:00 +0300',
    ], [
      'Hi. This is the qmail-send program at mail.bank-sever.ru.',
      "I'm afraid I wasn't able to deliver your message to the following addresses.",
      'This is a permanent error; I\'ve given up. Sorry it didn\'t work out.', '',
      '<petrova@bank-sever.ru>:',
      '192.0.2.30 does not like recipient.',
      'Remote host said: 550 5.2.1 Mailbox disabled', '',
      '--- Below this line is a copy of the message.', '',
      'Return-Path: <intake@dossier.dealer-avto.ru>',
      'Message-ID: <out.2026-00042.14@dossier.dealer-avto.ru>',
      'From: Dossier <intake@dossier.dealer-avto.ru>',
      'To: petrova@bank-sever.ru',
    ].join('\n')), LIMITS);
    expect(m.bounce).toEqual({
      originalMessageId: '<out.2026-00042.14@dossier.dealer-avto.ru>',
      returnedSubject: null,
      recipients: ['petrova@bank-sever.ru'],
      deliveries: [{ address: 'petrova@bank-sever.ru', action: 'failed', status: '5.2.1', diagnostic: 'Remote host said: 550 5.2.1 Mailbox disabled' }],
      status: '5.2.1',
      diagnostic: 'Remote host said: 550 5.2.1 Mailbox disabled',
    });
  });
});

describe('envelope, loop and authentication headers', () => {
  it('ours when our X-Dossier-Loop header is present', async () => {
    expect((await plain('[DL-2026-00042] Заявка', 'Текст', ['X-Dossier-Loop: dossier-prod-1'])).ours).toBe(true);
    expect((await plain('[DL-2026-00042] Заявка', 'Текст')).ours).toBe(false);
  });

  it('deliveredTo from Delivered-To, X-Original-To, X-Delivered-To and Envelope-To, without duplicates', async () => {
    const m = await plain('x', 'y', [
      'Delivered-To: intake+k7f3q9@dossier.dealer-avto.ru',
      'X-Original-To: intake+k7f3q9@dossier.dealer-avto.ru',
      'X-Delivered-To: <intake@dossier.dealer-avto.ru>',
      'Envelope-To: archive@dossier.dealer-avto.ru',
    ]);
    expect(m.deliveredTo).toEqual(['intake+k7f3q9@dossier.dealer-avto.ru', 'intake@dossier.dealer-avto.ru', 'archive@dossier.dealer-avto.ru']);
  });

  it('authResults: every Authentication-Results value, unfolded; raw headers by lower-case name', async () => {
    const m = await load('outlook-fw-en.eml');
    expect(m.authResults).toEqual([
      'mx.dossier.dealer-avto.ru; dkim=pass (2048-bit key) header.d=dealer-avto.ru header.i=@dealer-avto.ru header.b="Xk3pQ9Lm"; spf=pass smtp.mailfrom=p.petrov@dealer-avto.ru; dmarc=pass (p=quarantine) header.from=dealer-avto.ru',
    ]);
    expect(m.deliveredTo).toEqual(['intake+k7f3q9@dossier.dealer-avto.ru']);
    expect(m.headers.get('x-mailer')).toEqual(['Microsoft Outlook 14.0']);
    expect(m.headers.get('received')).toHaveLength(1);
    expect(m.messageId).toBe('<000301db5a1b$4c2e1f20$e48a5d60$@dealer-avto.ru>');
    expect(m.date?.toISOString()).toBe('2026-11-21T08:02:10.000Z');
  });
});

describe('attachments', () => {
  it('names decoded and made safe and unique; types sniffed from the bytes; the declared type kept; inline images flagged', async () => {
    const m = await load('attachments.eml');
    expect(m.ownText).toBe('Сканы во вложении.');
    expect(m.attachments.map((a) => ({ name: a.fileName, original: a.originalName, type: a.contentType, declared: a.declaredType, inline: a.inline }))).toEqual([
      { name: 'file.png', original: null, type: 'image/png', declared: 'image/png', inline: true }, // the logo in multipart/related
      { name: '_.._etc_passwd', original: '../../etc/passwd', type: 'application/pdf', declared: 'application/octet-stream', inline: false },
      { name: 'Паспорт.jpg', original: 'Паспорт.jpg', type: 'image/jpeg', declared: 'image/jpeg', inline: false },
      { name: 'паспорт (2).JPG', original: 'паспорт.JPG', type: 'image/jpeg', declared: 'image/jpeg', inline: false },
      { name: 'счётfdp.exe', original: 'счёт\u0007\u202efdp.exe', type: 'image/png', declared: 'application/pdf', inline: false },
      { name: 'file.pdf', original: null, type: 'application/pdf', declared: 'application/pdf', inline: false },
    ]);
    expect(m.attachments[2]!.size).toBe(322);
    expect(m.attachments[2]!.content.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });

  const withFiles = (files: { name: string; bytes: Buffer; inline?: boolean }[]) =>
    mail([...BASE, 'Subject: files', 'Content-Type: multipart/mixed; boundary="f"'], [
      '--f', 'Content-Type: text/plain; charset=utf-8', '', 'Файлы.',
      ...files.flatMap((f) => [
        '--f', 'Content-Type: application/octet-stream',
        f.inline ? `Content-Disposition: inline; filename="${f.name}"\r\nContent-ID: <${f.name}@x>` : `Content-Disposition: attachment; filename="${f.name}"`,
        'Content-Transfer-Encoding: base64', '', f.bytes.toString('base64'),
      ]),
      '--f--', '',
    ].join('\r\n'));

  it('drops a file over maxAttachmentBytes with a warning naming it', async () => {
    const big = Buffer.alloc(31 * MB, 0x41);
    const m = await parseMessage(withFiles([{ name: 'scan.pdf', bytes: big }, { name: 'small.txt', bytes: Buffer.from('ok') }]), LIMITS);
    expect(m.attachments.map((a) => a.fileName)).toEqual(['small.txt']);
    expect(m.warnings).toEqual(['"scan.pdf": 31 MB is over the 25 MB limit for one file; not kept.']);
  });

  it('keeps at most maxAttachments, documents before inline images', async () => {
    const files = [
      { name: 'logo.png', bytes: Buffer.from('x'), inline: true },
      ...[1, 2, 3].map((n) => ({ name: `скан ${n}.jpg`, bytes: Buffer.from(`scan ${n}`) })),
    ];
    const m = await parseMessage(withFiles(files), { ...LIMITS, maxAttachments: 2 });
    expect(m.attachments.map((a) => a.fileName)).toEqual(['скан 1.jpg', 'скан 2.jpg']);
    expect(m.warnings).toEqual([
      '"скан 3.jpg": over the limit of 2 attachments per message; not kept.',
      '"logo.png": over the limit of 2 attachments per message; not kept.',
    ]);
  });

  it('reads only the headers of a message over maxMessageBytes', async () => {
    const raw = withFiles([{ name: 'scan.pdf', bytes: Buffer.alloc(2 * MB, 1) }]);
    const m = await parseMessage(raw, { ...LIMITS, maxMessageBytes: 1 * MB });
    expect(m.subject).toBe('files');
    expect(m.from?.address).toBe('p.petrov@dealer-avto.ru');
    expect(m.text).toBe('');
    expect(m.attachments).toEqual([]);
    expect(m.warnings).toEqual(['The message is 2.7 MB, over the 1 MB limit: only its headers were read.']);
  });
});

describe('damaged and hostile input', () => {
  it('a truncated message gives the text and whole files, and names the file that was cut off', async () => {
    const m = await load('truncated.eml');
    expect(m.subject).toBe('Договор');
    expect(m.ownText).toBe('Договор подписан, скан ниже.');
    expect(m.attachments.map((a) => a.fileName)).toEqual(['stamp.png']);
    expect(m.warnings).toEqual([
      'The message ends before the closing boundary of a multipart/mixed part: it is probably truncated.',
      '"contract.pdf" is cut off (the message is truncated); not kept.',
    ]);
  });

  it('a multipart nested 5,000 deep is read to depth 50 and no further', async () => {
    const depth = 5000;
    const head: string[] = [];
    const tail: string[] = [];
    for (let i = 0; i < depth; i++) {
      head.push(`--b${i}\r\nContent-Type: multipart/mixed; boundary="b${i + 1}"\r\n\r\n`);
      tail.unshift(`\r\n--b${i}--\r\n`);
    }
    const body = `${head.join('')}--b${depth}\r\nContent-Type: text/plain\r\n\r\nглубоко\r\n--b${depth}--${tail.join('')}`;
    const m = await parseMessage(mail([...BASE, 'Subject: deep', 'Content-Type: multipart/mixed; boundary="b0"'], body), LIMITS);
    expect(m.subject).toBe('deep');
    expect(m.warnings).toEqual(['MIME parts are nested more than 50 levels deep; the deeper parts were not read.']);
  });

  it('a 2 MB header line (and a 2 MB folded one) is cut to 64 KB; the headers after it are still read', async () => {
    const long = 'a'.repeat(2 * MB);
    const folded = Array.from({ length: 42_000 }, () => 'b'.repeat(50)).join('\r\n ');
    const m = await parseMessage(mail(['From: Petr Petrov <p.petrov@dealer-avto.ru>', `X-Spam-Report: ${long}`, `References: ${folded}`, 'Subject: =?utf-8?B?0JfQsNGP0LLQutCw?=', 'Content-Type: text/plain; charset=utf-8'], 'Текст'), LIMITS);
    expect(m.subject).toBe('Заявка');
    expect(m.text).toBe('Текст');
    expect(m.headers.get('x-spam-report')![0]).toMatch(/^a{65535}$/); // 64 KB after the colon, the leading space trimmed
    expect(m.warnings).toEqual([
      'The x-spam-report header is 2 MB long; only the first 64 KB were read.',
      'The references header is 2 MB long; only the first 64 KB were read.',
    ]);
  });

  it('never throws for garbage, empty input or headers without a body', async () => {
    const garbage = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 256));
    await expect(parseMessage(garbage, LIMITS)).resolves.toMatchObject({ subject: '', attachments: [] });
    await expect(parseMessage(Buffer.alloc(0), LIMITS)).resolves.toMatchObject({ subject: '', text: '', from: null, date: null });
    const headersOnly = await parseMessage(Buffer.from('From: a@b.ru\r\nSubject: only headers'), LIMITS);
    expect(headersOnly.subject).toBe('only headers');
    const noBoundary = await parseMessage(mail([...BASE, 'Subject: x', 'Content-Type: multipart/mixed'], 'Текст без частей'), LIMITS);
    expect(noBoundary.text).toBe('Текст без частей');
    expect(noBoundary.warnings).toEqual(['A multipart/mixed part has no boundary; read as plain text.', 'Text (text/plain): no charset declared for 8-bit text; read as UTF-8.']);
  });

  it('hostile HTML, long lines and header blocks without colons are read (their cost is in the benchmarks, not here)', async () => {
    const html = `<p>a < b &amp; c</p>${'<style>x'.repeat(50_000)}${'<!--'.repeat(50_000)}${'<'.repeat(200_000)}`;
    const m = await parseMessage(mail([...BASE, 'Subject: html', 'Content-Type: text/html; charset=utf-8'], html), LIMITS);
    expect(m.text).toBe('a < b & c');
    const lines = await plain('Re: x', `${'10:15 ivan@bank.ru '.repeat(50_000)}:\n${'> '.repeat(100_000)}\nСтатус: одобрено`);
    // A 1 MB line ending in ":" is no attribution; the quoted line is dropped, the answer after it kept.
    expect(lines.ownText.startsWith('10:15 ivan@bank.ru')).toBe(true);
    expect(lines.ownText.endsWith(':\nСтатус: одобрено')).toBe(true);
    const headers = await parseMessage(mail([
      'From: a@b.ru', `Subject: ${'Re: '.repeat(16_000)}Заявка`, `Date: Fri ${'a'.repeat(60_000)}`,
      `Content-Type: text/plain${'; a="'.repeat(10_000)}`, `Content-Disposition: attachment; filename="${'\\'.repeat(30_000)}`,
    ], 'x'), LIMITS);
    expect(headers.subjectCore).toBe('Заявка');
    const noColons = Buffer.concat([Buffer.from('Subject: x\r\n'), Buffer.from('no colon here\r\n'.repeat(100_000)), Buffer.from('\r\nТекст')]);
    expect((await parseMessage(noColons, LIMITS)).subject).toBe('x');
  });

  it('a multipart whose boundary never occurs is read as text', async () => {
    const m = await parseMessage(mail([...BASE, 'Subject: x', 'Content-Type: multipart/mixed; boundary="wrong"'], '--right\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nТекст\r\n--right--\r\n'), LIMITS);
    expect(m.text).toContain('Текст');
    expect(m.warnings[0]).toBe('The boundary of a multipart/mixed part never occurs; its content was read as plain text.');
  });

  it('every case file cut anywhere still parses (what was readable, never an exception)', async () => {
    for (const name of readdirSync(cases).filter((n) => n.endsWith('.eml'))) {
      const raw = readFileSync(path.join(cases, name));
      for (let i = 1; i <= 40; i++) {
        const m = await parseMessage(raw.subarray(0, Math.floor((raw.length * i) / 40)), LIMITS);
        expect(typeof m.ownText).toBe('string');
      }
    }
  });

  it('base64 padded in the middle (line-by-line encoders) is read whole', async () => {
    const body = `${Buffer.from('Привет, ').toString('base64')}\r\n${Buffer.from('мир').toString('base64')}\r\n`;
    const m = await parseMessage(mail([...BASE, 'Subject: x', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], body), LIMITS);
    expect(m.text).toBe('Привет, мир');
    expect(m.warnings).toEqual([]);
  });

  // Found by the hostile-mail corpus (test/integration/hostile.test.ts): PostgreSQL text and jsonb
  // refuse a NUL and half a surrogate pair, which made such messages fail instead of being processed.
  it('drops NUL characters from headers, encoded-words, names and bodies; "&#xD800;" is not half a character', async () => {
    const m = await parseMessage(
      mail(['From: Pe\u0000tr <p.petrov@dealer-avto.ru>', 'Subject: =?utf-8?Q?=D0=94=00=D0=B0?= one\u0000two', 'Content-Type: multipart/mixed; boundary="x"'], [
        '--x', 'Content-Type: text/plain; charset=utf-8', '', 'одоб\u0000рено',
        '--x', 'Content-Type: application/pdf', "Content-Disposition: attachment; filename*=utf-8''a%00b.pdf", '', '%PDF-1.4',
        '--x', 'Content-Type: text/html', '', '<p>a&#xD800;b&#0;c&#x1F600;</p>',
        '--x--', '',
      ].join('\r\n')),
      LIMITS,
    );
    expect(m.subject).toBe('Да onetwo');
    expect(m.from).toEqual({ name: 'Petr', address: 'p.petrov@dealer-avto.ru' });
    expect(m.text).toBe('одобрено\n\na&#xD800;b&#0;c😀');
    expect(m.attachments.map((a) => [a.fileName, a.originalName])).toEqual([['ab.pdf', 'ab.pdf']]);
    expect(JSON.stringify(m)).not.toMatch(/\\u0000|\\ud800/);
  });

  it('keeps de-duplicated long names within 255 bytes and 150 characters, " (2)" included', async () => {
    const long = 'я'.repeat(200) + '.pdf';
    const part = (name: string) => ['--x', 'Content-Type: application/pdf', `Content-Disposition: attachment; filename="${name}"`, '', '%PDF-1.4'];
    const m = await parseMessage(mail([...BASE, 'Subject: x', 'Content-Type: multipart/mixed; boundary="x"'], [...part(long), ...part(long), ...part('😀'.repeat(100)), ...part('😀'.repeat(100)), '--x--', ''].join('\r\n')), LIMITS);
    const names = m.attachments.map((a) => a.fileName);
    expect(new Set(names).size).toBe(4);
    expect(names[1]).toMatch(/^я+ \(2\)\.pdf$/);
    for (const n of names) {
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(255);
      expect(Array.from(n).length).toBeLessThanOrEqual(150);
    }
  });

  it('throws for programming errors only', async () => {
    await expect(parseMessage('text' as unknown as Buffer, LIMITS)).rejects.toThrow(/Buffer/);
    await expect(parseMessage(Buffer.from('x'), { ...LIMITS, maxAttachments: Number.NaN })).rejects.toThrow(/maxAttachments/);
  });
});

describe('stripSubjectPrefixes', () => {
  it.each([
    ['Re: Fwd: AW: Заявка', 'Заявка'],
    ['RE[2]: Договор', 'Договор'],
    ['Re^2: Договор', 'Договор'],
    ['Re(3): Договор', 'Договор'],
    ['Fwd[3]: Договор', 'Договор'],
    ['WG: SV: VS: FW: Fw: Antrag', 'Antrag'],
    ['TR: RV: Rif: Ynt: Odp: PD: Документы', 'Документы'],
    ['Отв: Пересл: Документы', 'Документы'],
    ['Ответ: Переслано: Документы', 'Документы'],
    ['  Re :  Fwd:Документы  ', 'Документы'],
    ['[EXTERNAL] RE: FW: Decision', 'Decision'],
    ['[SPAM] Re: Заявка', 'Заявка'],
    ['*** SPAM *** Re: Заявка', 'Заявка'],
    ['[ВНЕШНИЙ] Отв: Заявка', 'Заявка'],
    ['Re: Заявка [EXTERNAL]', 'Заявка'],
    ['Re: [DL-2026-00042 k7f3q9] Документы', '[DL-2026-00042 k7f3q9] Документы'],
    ['Resume: the plan', 'Resume: the plan'],
    ['Reform of tariffs', 'Reform of tariffs'],
    ['FW:', ''],
  ])('%j → %j', (input, expected) => {
    expect(stripSubjectPrefixes(input)).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { classifyAuto } from '../../src/inbound/parse/auto-replies.js';
import { unflow } from '../../src/inbound/parse/body.js';
import { dateOffset, looseDate, parseHeaderDate } from '../../src/inbound/parse/dates.js';
import { parseMessage } from '../../src/inbound/parse.js';
import { cleanOwnText, datedSender, findMarker, headerField, isAttribution, looseAddress, looseAddressList, splitText } from '../../src/inbound/parse/forwards.js';
import { messageIds, parseStructured, splitHead } from '../../src/inbound/parse/headers.js';
import { dropBlocks, htmlToText } from '../../src/inbound/parse/html.js';
import { qpDecode, splitMultipart, transferDecode, type Part } from '../../src/inbound/parse/mime.js';
import { stripSubjectPrefixes, subjectKind } from '../../src/inbound/parse/subjects.js';
import { isMbox, splitMbox } from '../../src/inbound/mbox.js';

// Each parsing heuristic on its own, module by module (src/inbound/parse/*), with the inputs the
// mail clients named in each case produce. Whole messages are in parse.test.ts.

const ctx = () => ({ warnings: [] as string[], parts: 0, depthWarned: false, partsWarned: false });
const part = (encoding: string, body: string): Part => ({ headers: [], type: 'text/plain', params: {}, disposition: null, fileName: null, encoding, body: Buffer.from(body, 'latin1'), children: [], message: null, cut: false });

describe('mime', () => {
  it('splitMultipart: preamble and epilogue dropped, a longer boundary is not ours, transport padding allowed, missing close reported', () => {
    const body = Buffer.from('preamble\r\n--b\r\nA\r\n--b-2\r\nstill A\r\n--b  \r\nB\r\n--b--\r\nepilogue');
    expect(splitMultipart(body, 'b')).toEqual({ parts: [Buffer.from('A\r\n--b-2\r\nstill A'), Buffer.from('B')], closed: true });
    expect(splitMultipart(Buffer.from('--b\nA\n--b\nB'), 'b')).toEqual({ parts: [Buffer.from('A'), Buffer.from('B')], closed: false });
    expect(splitMultipart(Buffer.from('x--b\nnot at line start'), 'b').parts).toEqual([]);
  });

  it('qpDecode: soft breaks (with trailing spaces), hex in both cases, a lone "=" kept', () => {
    expect(qpDecode(Buffer.from('=D0=9F=d1=80=D0=B8=  \r\n=D0=B2=D0=B5=D1=82 a=b =')).toString('utf8')).toBe('Привет a=b =');
  });

  it('transferDecode: base64 padded line by line is whole; one cut mid-group is flagged broken', () => {
    const c = ctx();
    expect(transferDecode(part('base64', `${Buffer.from('Привет, ').toString('base64')}\r\n${Buffer.from('мир').toString('base64')}`), c)).toEqual({ bytes: Buffer.from('Привет, мир'), broken: false });
    expect(transferDecode(part('base64', 'SGVsbG8gd29y'), c).broken).toBe(false);
    expect(transferDecode(part('base64', 'SGVsbG8gd29'), c).broken).toBe(true);
    transferDecode(part('x-uuencode-ish', 'x'), c);
    transferDecode(part('uuencode', 'x'), c);
    expect(c.warnings).toEqual(['Unknown Content-Transfer-Encoding "uuencode"; the part was read as it is.']);
  });
});

describe('headers', () => {
  it('splitHead: LF and CRLF blank lines; a part starting with a blank line has no headers; one starting with text is all body', () => {
    expect(splitHead(Buffer.from('A: 1\nB: 2\n\nbody')).body.toString()).toBe('body');
    expect(splitHead(Buffer.from('A: 1\r\n\r\nbody')).head.toString()).toBe('A: 1\r\n');
    expect(splitHead(Buffer.from('\r\nbody')).head.length).toBe(0);
    expect(splitHead(Buffer.from('Hello there\nA: 1\n\nx')).body.toString()).toBe('Hello there\nA: 1\n\nx');
  });

  it('splitHead: mixed line endings — whichever blank line comes first ends the head, however the first line ends', () => {
    // CRLF first line, a bare-LF blank line before a CRLF one (a gateway that rewrote part of the head).
    expect(splitHead(Buffer.from('A: 1\r\nB: 2\n\nbody\r\n\r\nmore')).body.toString()).toBe('body\r\n\r\nmore');
    // LF first line, the CRLF blank line first.
    expect(splitHead(Buffer.from('A: 1\nB: 2\r\n\r\nbody\n\nmore')).body.toString()).toBe('body\n\nmore');
    // Only the other kind of blank line, far down the part.
    expect(splitHead(Buffer.from('A: 1\r\nB: 2\n\n' + 'x'.repeat(10_000))).head.toString()).toBe('A: 1\r\nB: 2\n');
    expect(splitHead(Buffer.from('A: 1\nB: 2\r\n\r\n' + 'x\n'.repeat(5_000))).head.toString()).toBe('A: 1\nB: 2\r\n');
  });

  it('parseStructured: RFC 2231 continuations with a charset win over a plain duplicate; Outlook\'s encoded-word names are decoded', () => {
    expect(parseStructured(`attachment; filename="a.pdf"; filename*0*=utf-8''%D0%A1%D0%BF%D1%80; filename*1*=%D0%B0%D0%B2%D0%BA%D0%B0.pdf`)).toEqual({ value: 'attachment', params: { filename: 'Справка.pdf' } });
    expect(parseStructured('application/pdf; name="=?windows-1251?B?0e/w4OLq4C5wZGY=?="').params.name).toBe('Справка.pdf');
    expect(parseStructured('multipart/mixed; boundary="=?not-a-word?="').params.boundary).toBe('=?not-a-word?=');
    expect(parseStructured('Text/Plain; charset="utf-8"; format=flowed').value).toBe('text/plain');
  });

  it('messageIds: angle-bracketed ids, unique; a bare id is accepted alone', () => {
    expect(messageIds('<a@b> <c@d>\r\n <a@b>')).toEqual(['<a@b>', '<c@d>']);
    expect(messageIds('a@b')).toEqual(['<a@b>']);
    expect(messageIds('no id here')).toEqual([]);
  });
});

describe('html and text', () => {
  it('htmlToText: blocks become lines, entities decoded, <pre> keeps its breaks, style and comments dropped', () => {
    expect(htmlToText('<style>p{}</style><!-- x --><p>Одобрено,&nbsp;сумма&nbsp;1&#160;500&nbsp;000</p><div>С&nbsp;уважением</div><pre>a\nb</pre>')).toBe('Одобрено, сумма 1 500 000\n\nС уважением\n\na\nb');
    expect(htmlToText('<table><tr><td>От:</td><td>Иван</td></tr></table>')).toBe('От: Иван');
  });

  it('dropBlocks: an unclosed <script> runs to the end, as in browsers', () => {
    expect(dropBlocks('a<script>alert(1)')).toBe('a');
    expect(dropBlocks('a<!-- c -->b<title>t</title>c')).toBe('abc');
  });

  it('unflow: Thunderbird\'s format=flowed joined back, quote depth kept, the signature separator not joined, DelSp honoured', () => {
    expect(unflow('одобрено, сумма \n1 500 000\n>> цитата \n>> дальше\n-- \nподпись', false)).toBe('одобрено, сумма 1 500 000\n>> цитата дальше\n-- \nподпись');
    expect(unflow('сло \nво', true)).toBe('слово');
  });
});

describe('subjects', () => {
  it('stripSubjectPrefixes: stacked prefixes in many languages, counters, gateway markers; our tag stays', () => {
    expect(stripSubjectPrefixes('[EXTERNAL] RE: Fwd[2]: Отв: Пересл: AW: [DL-2026-00042 k7f3q9] Заявка [SPAM]')).toBe('[DL-2026-00042 k7f3q9] Заявка');
    expect(stripSubjectPrefixes('Re^3: Fw：x')).toBe('x');
    expect(stripSubjectPrefixes('Research: no prefix')).toBe('Research: no prefix');
  });

  it('subjectKind: the first prefix decides forward or reply', () => {
    expect(subjectKind('[Внешнее письмо] Пересл: Re: x')).toBe('forward');
    expect(subjectKind('Re: Fwd: x')).toBe('reply');
    expect(subjectKind('x')).toBeNull();
  });
});

describe('auto-replies', () => {
  const h = (pairs: Record<string, string>) => new Map(Object.entries(pairs).map(([k, v]) => [k, [v]]));
  it('classifyAuto: delivery reports, out-of-office, lists, and ordinary mail', () => {
    expect(classifyAuto(h({}), 'x', 'x@y', 'multipart/report; report-type=delivery-status')).toBe('bounce');
    expect(classifyAuto(h({ from: 'MAILER-DAEMON <>' }), 'Returned mail', '', 'text/plain')).toBe('bounce');
    expect(classifyAuto(h({}), 'x', 'MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@bank.ru', 'text/plain')).toBe('bounce');
    expect(classifyAuto(h({ 'auto-submitted': 'auto-replied' }), 'Undeliverable: x', 'robot@bank.ru', 'text/plain')).toBe('bounce');
    expect(classifyAuto(h({ 'auto-submitted': 'auto-replied' }), 'Автоответ: x', 'ivan@bank.ru', 'text/plain')).toBe('auto-reply');
    expect(classifyAuto(h({}), 'Out of office: x', 'ivan@bank.ru', 'text/plain')).toBe('auto-reply');
    expect(classifyAuto(h({ 'x-auto-response-suppress': 'All' }), 'x', 'noreply@bank.ru', 'text/plain')).toBe('auto-reply');
    expect(classifyAuto(h({ 'x-auto-response-suppress': 'All' }), 'x', 'ivan@bank.ru', 'text/plain')).toBeNull(); // Outlook stamps it on ordinary mail
    expect(classifyAuto(h({ 'list-id': '<news.bank.ru>' }), 'x', 'news@bank.ru', 'text/plain')).toBe('list');
    expect(classifyAuto(h({ 'auto-submitted': 'no' }), 'Re: заявка', 'ivan@bank.ru', 'text/plain')).toBeNull();
  });
});

describe('forwards and replies', () => {
  it('headerField: English, Russian, German, Gmail-bold and mail.ru spellings', () => {
    expect(headerField('*From:* Иван <ivan@bank.ru>')).toEqual({ key: 'from', value: 'Иван <ivan@bank.ru>' });
    expect(headerField('От кого: ivan@bank.ru')).toEqual({ key: 'from', value: 'ivan@bank.ru' });
    expect(headerField('Betreff: x')).toEqual({ key: 'subject', value: 'x' });
    expect(headerField('Примечание: x')).toBeNull();
  });

  it('isAttribution and datedSender: Gmail, Yandex and mail.ru attribution lines; a working-hours line is none', () => {
    expect(isAttribution('On Fri, Nov 21, 2026 at 10:15 AM Ivan <ivan@bank.ru> wrote:')).toBe(true);
    expect(isAttribution('пт, 21 нояб. 2026 г. в 10:15, Иван <ivan@bank.ru>:')).toBe(true);
    expect(datedSender('Пятница, 21 ноября 2026, 10:15 +03:00 от Иван <ivan@mail.ru>:')).toEqual({ date: 'Пятница, 21 ноября 2026, 10:15 +03:00', sender: 'Иван <ivan@mail.ru>' });
    expect(isAttribution('Звоните с 9:00 до 18:00 от понедельника до пятницы:')).toBe(false);
  });

  it('findMarker: the Outlook separator, an OWA underscore line, a bare header block', () => {
    expect(findMarker(['ok', '-----Original Message-----', 'From: a'], 'FW: x')).toEqual({ index: 1, kind: 'forward', headerStart: 2 });
    expect(findMarker(['ok', '________________________________', 'From: a@b.ru', 'Sent: Friday, November 21, 2026 10:15', 'Subject: x'], 'RE: x')).toMatchObject({ index: 1, kind: 'reply' });
    expect(findMarker(['just text'], 'x')).toBeNull();
  });

  it('looseAddress / looseAddressList: Outlook\'s "Last, First [mailto:…]" and ";" lists, RFC lists with quoted commas', () => {
    expect(looseAddress('Павлова Наталья [mailto:n.pavlova@bank.ru]')).toEqual({ name: 'Павлова Наталья', address: 'n.pavlova@bank.ru' });
    expect(looseAddressList('Ivanov, Ivan <i@b.ru>; Petrov <p@b.ru>').map((a) => a.address)).toEqual(['i@b.ru', 'p@b.ru']);
    expect(looseAddressList('"Ivanov, Ivan" <i@b.ru>, p@b.ru').map((a) => a.address)).toEqual(['i@b.ru', 'p@b.ru']);
  });

  it('cleanOwnText: quoted lines, signature, a mobile footer and trailing rulers removed', () => {
    expect(cleanOwnText(['одобрено', '> старое', '', 'Отправлено из мобильной Почты Mail.ru', '____'])).toBe('одобрено');
    expect(cleanOwnText(['одобрено', '-- ', 'Петров'])).toBe('одобрено');
  });

  it('splitText: the own text and an inline forward with its header block', () => {
    const r = splitText('одобрено\n\n---------- Forwarded message ---------\nFrom: Банк <credit@bank.ru>\nDate: Fri, Nov 21, 2026 at 10:15 AM\nSubject: Решение\nTo: <p@dealer.ru>\n\nОдобрено.', 'Fwd: Решение');
    expect(r.own).toBe('одобрено');
    expect(r.forwarded).toMatchObject({ from: { name: 'Банк', address: 'credit@bank.ru' }, subject: 'Решение', text: 'Одобрено.', kind: 'inline' });
  });
});

describe('dates', () => {
  it('looseDate: client formats; no zone means Moscow; an explicit offset is kept', () => {
    expect(looseDate('Friday, November 21, 2026 10:15 AM')?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
    expect(looseDate('21 ноября 2026 г. 10:15')?.toISOString()).toBe('2026-11-21T07:15:00.000Z');
    expect(looseDate('21.11.2026, 10:15 +05:00')?.toISOString()).toBe('2026-11-21T05:15:00.000Z');
    expect(looseDate('11/21/2026')?.toISOString()).toBe('2026-11-20T21:00:00.000Z');
    expect(looseDate('no date')).toBeNull();
  });

  it('parseHeaderDate: RFC 5322 with a comment zone; junk is cut before parsing', () => {
    expect(parseHeaderDate('Sun, 6 Dec 2026 01:10:00 +0300 (MSK)')?.toISOString()).toBe('2026-12-05T22:10:00.000Z');
    expect(parseHeaderDate(`x${'a'.repeat(100_000)}`)).toBeNull();
  });
});

describe('date offsets (for the calendar date in the sender\'s zone)', () => {
  it('dateOffset: numeric, Outlook\'s "(GMT+03:00)", named zones; none for a date-only or zoneless value', () => {
    expect(dateOffset('Sun, 6 Dec 2026 01:10:00 +0300 (MSK)')).toBe(180);
    expect(dateOffset('Sat, 5 Dec 2026 14:10:00 -0800')).toBe(-480);
    expect(dateOffset('Воскресенье, 6 декабря 2026, 1:10 +03:00')).toBe(180);
    expect(dateOffset('6 December 2026 1:10 (GMT+03:00) Moscow')).toBe(180);
    expect(dateOffset('Sun, 6 Dec 2026 01:10:00 GMT')).toBe(0);
    expect(dateOffset('Sat, 5 Dec 2026 14:10:00 PST')).toBe(-480);
    expect(dateOffset('6 декабря 2026 г.')).toBeNull();
    expect(dateOffset('Sun, Dec 6, 2026 at 1:10 AM')).toBeNull();
  });

  it('a message and its inline forward carry the zones they were written in', async () => {
    const raw = Buffer.from([
      'From: p.petrov@dealer-avto.ru', 'Subject: Fwd: Решение', 'Date: Sun, 6 Dec 2026 01:10:00 +0300', 'Content-Type: text/plain; charset=utf-8', '',
      'одобрено', '', '-------- Пересылаемое сообщение --------', '06.12.2026, 00:55, "Банк" <credit@bank.ru>:', '', 'Одобрено.', '',
    ].join('\r\n'));
    const m = await parseMessage(raw, { maxAttachmentBytes: 1e6, maxMessageBytes: 1e7, maxAttachments: 5 });
    expect(m.date?.toISOString()).toBe('2026-12-05T22:10:00.000Z'); // the instant; the sender's calendar date is the 6th
    expect(m.dateOffset).toBe(180);
    expect(m.forwarded).toMatchObject({ dateOffset: null, from: { address: 'credit@bank.ru' } }); // Yandex writes no zone: the business time zone applies
  });
});

describe('mbox', () => {
  const msg = (n: number) => `From: a${n}@b.ru\nSubject: ${n}\n\nbody ${n}\n>From the past\n>>From deeper\n`;
  it('isMbox: a separator line followed by a header; a single message is not one', () => {
    expect(isMbox(Buffer.from(`From a1@b.ru Fri Nov 21 11:00:00 2026\n${msg(1)}`))).toBe(true);
    expect(isMbox(Buffer.from(`From - Fri Nov 21 11:00:00 2026\n${msg(1)}`))).toBe(true);
    expect(isMbox(Buffer.from(msg(1)))).toBe(false);
    expect(isMbox(Buffer.from('From here on we talk\nabout it'))).toBe(false);
  });

  it('splitMbox: messages at separators after a blank line, ">From " unescaped one level, a "From " inside text kept', () => {
    const raw = Buffer.from(`From a1@b.ru Fri Nov 21 11:00:00 2026\n${msg(1)}\nFrom a2@b.ru  Fri Nov 21 12:00:00 2026\n${msg(2)}From words in a body\n`);
    const parts = splitMbox(raw).map((b) => b.toString());
    expect(parts).toEqual([
      'From: a1@b.ru\nSubject: 1\n\nbody 1\nFrom the past\n>From deeper\n',
      'From: a2@b.ru\nSubject: 2\n\nbody 2\nFrom the past\n>From deeper\nFrom words in a body\n',
    ]);
  });

  it('splitMbox keeps 8-bit bytes as they are', () => {
    const body = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // «Привет» in windows-1251
    const raw = Buffer.concat([Buffer.from('From a@b.ru Fri Nov 21 11:00:00 2026\nSubject: x\n\n'), body, Buffer.from('\n')]);
    expect(splitMbox(raw)[0]!.subarray(-7, -1)).toEqual(body);
  });
});

import { describe, expect, it } from 'vitest';
import { parseMessage, type ParseLimits } from '../../src/inbound/parse.js';
import { isOutlookMsg, normalizeStart } from '../../src/inbound/parse/envelope.js';

// What comes before or instead of the headers (src/inbound/parse/envelope.ts), two From: headers,
// and Outlook .msg files — each as the software that produces it writes it.

const LIMITS: ParseLimits = { maxAttachmentBytes: 25 * 1024 * 1024, maxMessageBytes: 50 * 1024 * 1024, maxAttachments: 20 };
const HEADERS = [
  'From: Petr Petrov <p.petrov@dealer-avto.ru>',
  'To: intake@dossier.dealer-avto.ru',
  'Subject: =?utf-8?B?0J7QtNC+0LHRgNC10L3QviBbREwtMjAyNi0wMDA0Ml0=?=',
  'Date: Fri, 21 Nov 2026 11:00:00 +0300',
  'Message-ID: <t-env@dealer-avto.ru>',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
];
const BODY = 'одобрено, сумма 1 500 000';
const lf = `${HEADERS.join('\n')}\n\n${BODY}\n`;

describe('the start of a message', () => {
  it('a UTF-8 byte-order mark (a message saved from Notepad) keeps its headers', async () => {
    const m = await parseMessage(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lf.replace(/\n/g, '\r\n'))]), LIMITS);
    expect(m.from?.address).toBe('p.petrov@dealer-avto.ru');
    expect(m.subject).toBe('Одобрено [DL-2026-00042]');
    expect(m.text).toBe(BODY);
    expect(m.warnings).toEqual(['The message starts with a UTF-8 byte-order mark; it was skipped.']);
  });

  it('an mbox "From " line (a message cut out of a Thunderbird mbox) and an escaped ">From " line keep the headers', async () => {
    for (const first of ['From p.petrov@dealer-avto.ru Fri Nov 21 11:00:00 2026', '>From p.petrov@dealer-avto.ru  Fri Nov 21 11:00:00 2026', 'From - Fri Nov 21 11:00:00 2026']) {
      const m = await parseMessage(Buffer.from(`${first}\n${lf}`), LIMITS);
      expect(m.from?.address).toBe('p.petrov@dealer-avto.ru');
      expect(m.subject).toBe('Одобрено [DL-2026-00042]');
      expect(m.warnings).toEqual(['The message starts with an mbox "From " line; it was skipped.']);
    }
  });

  it('an obsolete "From :" header with a space before the colon is a header, not an mbox line', () => {
    const raw = Buffer.from('From : p.petrov@dealer-avto.ru\nSubject: x\n\ny');
    const notes: string[] = [];
    expect(normalizeStart(raw, (n) => notes.push(n))).toBe(raw);
    expect(notes).toEqual([]);
  });

  it('CR-only line ends (classic Mac Eudora, some gateways) keep the headers and the body', async () => {
    const m = await parseMessage(Buffer.from(lf.replace(/\n/g, '\r')), LIMITS);
    expect(m.from?.address).toBe('p.petrov@dealer-avto.ru');
    expect(m.subject).toBe('Одобрено [DL-2026-00042]');
    expect(m.text).toBe(BODY);
    expect(m.warnings).toEqual(['The message has CR-only line ends; they were read as CRLF.']);
  });
});

describe('two From: headers', () => {
  it('are counted, both addresses listed, and a warning says the sender is in doubt', async () => {
    const raw = Buffer.from(['From: Petr Petrov <p.petrov@dealer-avto.ru>', 'From: attacker@evil.example', ...HEADERS.slice(1)].join('\r\n') + `\r\n\r\n${BODY}\r\n`);
    const m = await parseMessage(raw, LIMITS);
    expect(m.fromCount).toBe(2);
    expect(m.fromAddresses).toEqual([{ name: 'Petr Petrov', address: 'p.petrov@dealer-avto.ru' }, { name: '', address: 'attacker@evil.example' }]);
    expect(m.from).toEqual({ name: 'Petr Petrov', address: 'p.petrov@dealer-avto.ru' });
    expect(m.warnings).toEqual(['The message has 2 From: headers (p.petrov@dealer-avto.ru, attacker@evil.example); only one is allowed, so the sender is in doubt.']);
  });

  it('one From: with two mailboxes also gives fromAddresses both, fromCount 1', async () => {
    const raw = Buffer.from(['From: p.petrov@dealer-avto.ru, m.orlova@dealer-avto.ru', ...HEADERS.slice(1)].join('\r\n') + `\r\n\r\n${BODY}\r\n`);
    const m = await parseMessage(raw, LIMITS);
    expect(m.fromCount).toBe(1);
    expect(m.fromAddresses.map((a) => a.address)).toEqual(['p.petrov@dealer-avto.ru', 'm.orlova@dealer-avto.ru']);
    expect((await parseMessage(Buffer.from(lf), LIMITS)).fromAddresses).toHaveLength(1);
  });
});

/**
 * The first sector of an Outlook .msg as Outlook writes it: the CFB signature and header, then a
 * directory sector with the UTF-16LE stream names every .msg has ("__properties_version1.0",
 * "__substg1.0_0037001F" = PR_SUBJECT as Unicode, "__substg1.0_0C1F001F" = the sender's address).
 */
function outlookMsg(): Buffer {
  const header = Buffer.alloc(512);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(header, 0);
  header.writeUInt16LE(0x003e, 0x18); // minor version
  header.writeUInt16LE(0x0003, 0x1a); // major version 3 (512-byte sectors)
  header.writeUInt16LE(0xfffe, 0x1c); // little-endian
  header.writeUInt16LE(9, 0x1e); // sector shift
  header.writeUInt16LE(6, 0x20); // mini sector shift
  const dir = Buffer.alloc(512);
  ['Root Entry', '__properties_version1.0', '__substg1.0_0037001F', '__substg1.0_0C1F001F'].forEach((name, i) => {
    const n = Buffer.from(`${name}\0`, 'utf16le');
    n.copy(dir, i * 128);
    dir.writeUInt16LE(n.length, i * 128 + 64);
  });
  return Buffer.concat([header, dir, Buffer.from('Решение банка по заявке Смирнова', 'utf16le')]);
}

describe('Outlook .msg', () => {
  it('isOutlookMsg: the CFB signature with the message streams; a .doc (CFB without them) is not one', () => {
    expect(isOutlookMsg(outlookMsg())).toBe(true);
    const doc = Buffer.concat([outlookMsg().subarray(0, 512), Buffer.from('WordDocument\0', 'utf16le'), Buffer.alloc(600)]);
    expect(isOutlookMsg(doc)).toBe(false);
    expect(isOutlookMsg(Buffer.from(lf))).toBe(false);
  });

  it('a .msg given as the message is named as such, not read as a headerless "unknown sender"', async () => {
    const m = await parseMessage(outlookMsg(), LIMITS);
    expect(m.outlookMsg).toBe('message');
    expect(m.from).toBeNull();
    expect(m.warnings).toEqual([
      'This is an Outlook .msg file (a binary OLE container), not an email in MIME form: its sender, subject and files cannot be read. Save or forward it from Outlook as an .eml file (or forward it as an attachment).',
    ]);
  });

  it('a .msg attached to a manager\'s mail (Outlook drag-and-drop) is kept as application/vnd.ms-outlook and named', async () => {
    const raw = Buffer.from(
      [
        'From: Petr Petrov <p.petrov@dealer-avto.ru>', 'To: intake@dossier.dealer-avto.ru', 'Subject: FW: [DL-2026-00042] решение', 'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="_004_"', '', '--_004_', 'Content-Type: text/plain; charset="utf-8"', 'Content-Transfer-Encoding: 8bit', '', 'одобрено, письмо банка во вложении', '',
        '--_004_', 'Content-Type: application/octet-stream; name="=?utf-8?B?0KDQtdGI0LXQvdC40LUg0LHQsNC90LrQsC5tc2c=?="',
        'Content-Disposition: attachment; filename="=?utf-8?B?0KDQtdGI0LXQvdC40LUg0LHQsNC90LrQsC5tc2c=?="', 'Content-Transfer-Encoding: base64', '',
        outlookMsg().toString('base64').replace(/(.{76})/g, '$1\r\n'), '--_004_--', '',
      ].join('\r\n'),
    );
    const m = await parseMessage(raw, LIMITS);
    expect(m.outlookMsg).toBe('attachment');
    expect(m.attachments.map((a) => [a.fileName, a.contentType])).toEqual([['Решение банка.msg', 'application/vnd.ms-outlook']]);
    expect(m.warnings).toEqual([
      '"Решение банка.msg" is an Outlook message (.msg): it is kept as a file, but its sender, text and attachments are not read; forward it as an email or save it as .eml to have it read.',
    ]);
  });
});

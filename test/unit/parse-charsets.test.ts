import { describe, expect, it } from 'vitest';
import { parseMessage, type ParseLimits } from '../../src/inbound/parse.js';
import { decodeBytes, looksWestern, mostlyUtf8 } from '../../src/inbound/parse/charsets.js';
import { decodeWords } from '../../src/inbound/parse/headers.js';

// Charset heuristics one by one (src/inbound/parse/charsets.ts, headers.ts), then through
// parseMessage with messages as the mail clients that cause each case write them.

const LIMITS: ParseLimits = { maxAttachmentBytes: 25 * 1024 * 1024, maxMessageBytes: 50 * 1024 * 1024, maxAttachments: 20 };
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const latin1 = (s: string) => Buffer.from(s, 'latin1');
/** windows-1251 from TextDecoder's own table (Node has no windows-1251 encoder). */
const cp1251 = (() => {
  const table = new Map<string, number>();
  for (let b = 0x80; b <= 0xff; b++) table.set(new TextDecoder('windows-1251').decode(Uint8Array.of(b)), b);
  return (s: string) => Buffer.from([...s].map((c) => (c.charCodeAt(0) < 0x80 ? c.charCodeAt(0) : (table.get(c) ?? 0x3f))));
})();
const message = (head: Buffer | string, body: Buffer | string) => Buffer.concat([typeof head === 'string' ? Buffer.from(head) : head, Buffer.from('\r\n'), typeof body === 'string' ? utf8(body) : body]);

describe('mostly-valid UTF-8 stays UTF-8', () => {
  const text = 'Добрый день! Решение по Смирнову: одобрено, сумма 1 500 000.';

  it('mostlyUtf8: one stray byte among many valid sequences gives U+FFFD, not another charset', () => {
    const r = mostlyUtf8(Buffer.concat([utf8(text), Buffer.from([0xe9]), utf8(' Пётр')]));
    expect(r).toEqual({ text: `${text}\ufffd Пётр`, bad: 1 });
    expect(mostlyUtf8(cp1251(text))).toBeNull(); // real windows-1251 text is not "mostly UTF-8"
    expect(mostlyUtf8(utf8(text))).toBeNull(); // nothing to repair
  });

  it('a manager\'s Outlook reply with one windows-1251 byte pasted into a UTF-8 part is still read, and still says «одобрено»', async () => {
    // Outlook 2016 declares UTF-8 and sends 8bit; the signature was pasted from an old cp1251 document.
    const body = Buffer.concat([utf8(`${text}\r\n\r\n--\r\nП. Петров, отдел продаж `), cp1251('№'), utf8(' 12\r\n')]);
    const m = await parseMessage(
      message(
        'From: Petr Petrov <p.petrov@dealer-avto.ru>\r\nTo: intake@dossier.dealer-avto.ru\r\nSubject: RE: [DL-2026-00042] Смирнов\r\nX-Mailer: Microsoft Outlook 16.0\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n',
        body,
      ),
      LIMITS,
    );
    expect(m.ownText).toBe(text);
    expect(m.text).toContain('отдел продаж \ufffd 12');
    expect(m.warnings).toEqual(['Text (text/plain): 1 invalid byte sequence(s) in UTF-8 text replaced with U+FFFD.']);
  });

  it('a declared charset that decodes is followed (Latin-1 Portuguese stays Latin-1)', () => {
    expect(decodeBytes(latin1('Formação concluída, contrato assinado.'), 'iso-8859-1')).toEqual({ text: 'Formação concluída, contrato assinado.', charset: 'windows-1252', note: null });
    expect(decodeBytes(utf8('Håvard'), 'utf-8')).toEqual({ text: 'Håvard', charset: 'utf-8', note: null });
  });
});

describe('8-bit headers without a charset: windows-1251 or windows-1252 by what the letters make', () => {
  it('looksWestern: Latin words read with the Cyrillic table mix scripts; Russian words do not', () => {
    expect(looksWestern(latin1('Formação'))).toBe(true);
    expect(looksWestern(latin1('Håvard Ødegård'))).toBe(true);
    expect(looksWestern(cp1251('Заявка одобрена'))).toBe(false);
    expect(looksWestern(cp1251('Заявка DL-2026-00042 одобрена'))).toBe(false);
  });

  it('raw Latin-1 From and Subject (an old Portuguese or Norwegian client) come out Latin, a raw windows-1251 subject still Cyrillic', async () => {
    const head = Buffer.concat([
      latin1('From: "Håvard Ødegård" <havard@leasing-nord.no>\r\nTo: intake@dossier.dealer-avto.ru\r\nSubject: Formação do contrato [CL-2026-00017]\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n'),
    ]);
    const m = await parseMessage(message(head, latin1('Segue em anexo.\r\n')), LIMITS);
    expect(m.from).toEqual({ name: 'Håvard Ødegård', address: 'havard@leasing-nord.no' });
    expect(m.subject).toBe('Formação do contrato [CL-2026-00017]');
    expect(m.warnings).toEqual([
      'The from header has raw 8-bit text without a charset; read as windows-1252.',
      'The subject header has raw 8-bit text without a charset; read as windows-1252.',
    ]);
    const ru = await parseMessage(message(Buffer.concat([latin1('From: p.petrov@dealer-avto.ru\r\nSubject: '), cp1251('Заявка одобрена'), latin1('\r\n')]), 'x'), LIMITS);
    expect(ru.subject).toBe('Заявка одобрена');
  });

  it('an 8-bit body without any charset in Latin-1 is read as windows-1252', async () => {
    const m = await parseMessage(message('From: a@firma.pt\r\nSubject: x\r\n', latin1('Aprovação do crédito: concluída.\r\n')), LIMITS);
    expect(m.text).toBe('Aprovação do crédito: concluída.');
    expect(m.warnings).toEqual(['Text (text/plain): no charset declared for 8-bit text; read as windows-1252 (the letters make Latin words).']);
  });
});

describe('stateful charsets in encoded-words', () => {
  // Japanese mailers (Becky!, Thunderbird-ja) write each ISO-2022-JP word switching to JIS X 0208 and
  // back to ASCII; joining two such words before decoding made U+FFFD.
  it('adjacent ISO-2022-JP words are decoded one by one', () => {
    expect(decodeWords('=?ISO-2022-JP?B?GyRCOCtAUT1xJE4bKEI=?=\r\n =?ISO-2022-JP?B?GyRCQXdJVSRLJEQkJCRGGyhC?=')).toBe('見積書の送付について');
  });

  it('a whole Japanese message subject through parseMessage', async () => {
    const m = await parseMessage(
      message('From: =?ISO-2022-JP?B?GyRCOCtAUT1xJE4bKEI=?= <tanaka@example.co.jp>\r\nSubject: =?ISO-2022-JP?B?GyRCOCtAUT1xJE4bKEI=?=\r\n =?ISO-2022-JP?B?GyRCQXdJVSRLJEQkJCRGGyhC?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n', 'x'),
      LIMITS,
    );
    expect(m.subject).toBe('見積書の送付について');
    expect(m.subject).not.toContain('\ufffd');
  });

  it('UTF-8 words are still joined, so a character split between two words is whole', () => {
    const bytes = utf8('Да');
    const w1 = `=?utf-8?B?${bytes.subarray(0, 3).toString('base64')}?=`;
    const w2 = `=?utf-8?B?${bytes.subarray(3).toString('base64')}?=`;
    expect(decodeWords(`${w1} ${w2}`)).toBe('Да');
  });
});

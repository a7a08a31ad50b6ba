import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMessage, type ParseLimits } from '../../src/inbound/parse.js';
import { specificStatus } from '../../src/inbound/parse/bounces.js';
import type { ParsedMessage } from '../../src/inbound/types.js';

// Delivery reports as the real servers write them (parse-cases/bounces/: Postfix, Sendmail, Exim,
// qmail, Exchange 2016, Office 365, Gmail, Yandex, mail.ru, Amazon SES, a relay that signs as
// "MAILER-DAEMON <>", a Russian "Mail.Delivery.System@" notice). Their shapes follow RFC 3464's
// examples and the bounce corpora of other projects (sisimai, mailman, Exim's test suite); the
// messages themselves are written here, about our own outgoing mail.
//
// "Recognised" = classified as a bounce, the recipient found with the right action, and our message
// found: its Message-ID, or (when the report carries none) the "[REF token]" tag of its subject.

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'parse-cases', 'bounces');
const LIMITS: ParseLimits = { maxAttachmentBytes: 25 * 1024 * 1024, maxMessageBytes: 50 * 1024 * 1024, maxAttachments: 20 };

interface Expected { recipient: string; action: string; status: string | null; messageId?: string; tag?: string }
const EXPECTED: Record<string, Expected> = {
  'postfix-dsn.eml': { recipient: 'credit@bank-taiga.ru', action: 'failed', status: '5.1.1', messageId: '<out.2026-00042.21@dossier.dealer-avto.ru>' },
  'postfix-two-recipients.eml': { recipient: 'loans@bank-volga.ru', action: 'delayed', status: '4.4.1', messageId: '<out.2026-00042.22@dossier.dealer-avto.ru>' },
  'sendmail-dsn.eml': { recipient: 'claims@insurer-orel.ru', action: 'failed', status: '5.1.1', messageId: '<out.2026-00017.5@dossier.dealer-avto.ru>' },
  'exchange-2016-dsn.eml': { recipient: 'ivanov@bank-sever.ru', action: 'failed', status: '5.1.1', messageId: '<out.2026-00042.23@dossier.dealer-avto.ru>' },
  'office365-generic-status.eml': { recipient: 'docs@leasing-alfa.ru', action: 'failed', status: '5.7.1', messageId: '<out.2026-00017.8@dossier.dealer-avto.ru>' },
  'gmail-dsn.eml': { recipient: 'smirnov.a.v.1985@gmail.com', action: 'failed', status: '5.1.1', messageId: '<out.2026-00042.24@dossier.dealer-avto.ru>' },
  'gmail-delayed.eml': { recipient: 'lawyer@advokat-orlova.ru', action: 'delayed', status: '4.7.1', messageId: '<out.2026-00017.9@dossier.dealer-avto.ru>' },
  'yandex-dsn.eml': { recipient: 'a.kuznetsova@yandex.ru', action: 'failed', status: '5.7.1', messageId: '<out.2026-00051.2@dossier.dealer-avto.ru>' },
  'mailru-text.eml': { recipient: 'petrov-ivan-1979@mail.ru', action: 'failed', status: null, messageId: '<out.2026-00063.1@dossier.dealer-avto.ru>' },
  'ses-dsn.eml': { recipient: 'broker@rusbroker-ins.ru', action: 'failed', status: '5.7.1', messageId: '<out.2026-00017.11@dossier.dealer-avto.ru>' },
  'qmail-text.eml': { recipient: 'lizing@lizing-centr.ru', action: 'failed', status: '5.1.1', messageId: '<out.2026-00017.14@dossier.dealer-avto.ru>' },
  'exim-delayed.eml': { recipient: 'ocenka@expert-nn.ru', action: 'delayed', status: '4.3.0', tag: '[CL-2026-00017 z9k4ma]' },
  'mailer-daemon-empty.eml': { recipient: 'ipoteka@bank-ural.ru', action: 'failed', status: '5.1.1', tag: '[DL-2026-00042 u5r2fe]' },
  'mail-delivery-system-ru.eml': { recipient: 'ipoteka-msk@bank-ural.ru', action: 'failed', status: '5.2.2', messageId: '<out.2026-00071.3@dossier.dealer-avto.ru>' },
};

function recognised(m: ParsedMessage, e: Expected): boolean {
  const d = m.bounce?.deliveries.find((x) => x.address === e.recipient);
  const ours = e.messageId ? m.bounce?.originalMessageId === e.messageId : Boolean(e.tag && m.bounce?.returnedSubject?.includes(e.tag));
  return m.auto === 'bounce' && d?.action === e.action && ours;
}

const results: { file: string; ok: boolean }[] = [];

describe('the bounce corpus', () => {
  it('holds exactly the formats listed here', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, e] of Object.entries(EXPECTED)) {
    it(`${file}: ${e.recipient} ${e.action}${e.status ? ` ${e.status}` : ''}, our message found`, async () => {
      const m = await parseMessage(readFileSync(path.join(dir, file)), LIMITS);
      results.push({ file, ok: recognised(m, e) });
      expect(m.auto).toBe('bounce');
      const d = m.bounce!.deliveries.find((x) => x.address === e.recipient);
      expect(d).toMatchObject({ action: e.action, status: e.status });
      expect(m.bounce!.recipients).toEqual(e.action === 'failed' ? [e.recipient] : []);
      if (e.messageId) expect(m.bounce!.originalMessageId).toBe(e.messageId);
      else expect(m.bounce!.returnedSubject).toContain(e.tag);
      expect(m.attachments).toEqual([]); // the returned copy is ours, not a document
    });
  }

  afterAll(() => {
    const ok = results.filter((r) => r.ok).length;
    // The figure README.md states ("Mail parsing, measured").
    console.log(`bounce recognition: ${ok} of ${results.length} formats recognised (${Math.round((100 * ok) / Math.max(1, results.length))}%: recipient + action + our message)`);
  });
});

describe('delivery reports read per recipient', () => {
  it('a delayed and a delivered recipient in one report: nothing failed, both kept, the delay leads', async () => {
    const m = await parseMessage(readFileSync(path.join(dir, 'postfix-two-recipients.eml')), LIMITS);
    expect(m.bounce).toEqual({
      originalMessageId: '<out.2026-00042.22@dossier.dealer-avto.ru>',
      returnedSubject: '[DL-2026-00042 p2m8zx] Application package',
      recipients: [],
      deliveries: [
        { address: 'loans@bank-volga.ru', action: 'delayed', status: '4.4.1', diagnostic: 'connect to mx.bank-volga.ru[203.0.113.40]:25: Connection timed out' },
        { address: 'archive@bank-volga.ru', action: 'delivered', status: '2.0.0', diagnostic: '250 2.0.0 Ok: queued as 7F1A2B3C4D' },
      ],
      status: '4.4.1',
      diagnostic: 'connect to mx.bank-volga.ru[203.0.113.40]:25: Connection timed out',
    });
  });

  it('several delivery-status parts are read whole; the failed one leads even when listed second', async () => {
    const part = (rcpt: string, action: string, status: string) =>
      ['--r', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.bank.ru', '', `Final-Recipient: rfc822; ${rcpt}`, `Action: ${action}`, `Status: ${status}`, ''].join('\r\n');
    const raw = Buffer.from(
      [
        'From: MAILER-DAEMON@mx.bank.ru', 'To: intake@dossier.dealer-avto.ru', 'Subject: Delivery Status Notification',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"', '',
        '--r', 'Content-Type: text/plain', '', 'Report.', '',
        part('a@bank.ru', 'relayed', '2.0.0'), part('b@bank.ru', 'failed', '5.1.1'),
        '--r', 'Content-Type: text/rfc822-headers', '', 'Message-ID: <out.1@dossier.dealer-avto.ru>', 'Subject: [DL-2026-00001 aaaaaa] x', '', '--r--', '',
      ].join('\r\n'),
    );
    const m = await parseMessage(raw, LIMITS);
    expect(m.bounce!.deliveries.map((d) => `${d.address} ${d.action} ${d.status}`)).toEqual(['a@bank.ru relayed 2.0.0', 'b@bank.ru failed 5.1.1']);
    expect(m.bounce!.recipients).toEqual(['b@bank.ru']);
    expect(m.bounce!.status).toBe('5.1.1');
  });

  it('specificStatus: a generic code gives way to the diagnostic\'s specific one of the same class', () => {
    expect(specificStatus('5.0.0', 'smtp; 550 5.7.1 Service unavailable')).toBe('5.7.1');
    expect(specificStatus('5.1.1', '550 5.7.1 something else')).toBe('5.1.1'); // a specific Status stands
    expect(specificStatus('5.0.0', '451 4.7.1 greylisted')).toBe('5.0.0'); // another class does not replace it
    expect(specificStatus(null, 'Remote host said: 550 5.2.1 Mailbox disabled')).toBe('5.2.1');
    expect(specificStatus('4.0.0', null)).toBe('4.0.0');
    expect(specificStatus(null, 'no code here')).toBeNull();
  });

  it('"MAILER-DAEMON <>" with an empty address is a bounce, and so is a Mail.Delivery.System@ sender', async () => {
    const empty = await parseMessage(readFileSync(path.join(dir, 'mailer-daemon-empty.eml')), LIMITS);
    expect(empty.from).toEqual({ name: 'MAILER-DAEMON', address: '' });
    expect(empty.auto).toBe('bounce');
    expect(empty.bounce!.originalMessageId).toBeNull(); // the copy had none: the tag is what is left
    expect(empty.bounce!.returnedSubject).toBe('[DL-2026-00042 u5r2fe] Application package');
    const ru = await parseMessage(readFileSync(path.join(dir, 'mail-delivery-system-ru.eml')), LIMITS);
    expect(ru.auto).toBe('bounce');
    expect(ru.bounce!.diagnostic).toBe('Причина: 550 5.2.2 Почтовый ящик получателя переполнен');
  });

  it('a report without a report part: the returned copy\'s sender (us) and the daemon are not taken for the recipient', async () => {
    const m = await parseMessage(readFileSync(path.join(dir, 'qmail-text.eml')), LIMITS);
    expect(m.bounce!.deliveries.map((d) => d.address)).toEqual(['lizing@lizing-centr.ru']);
    expect(m.bounce!.returnedSubject).toBe('[CL-2026-00017 h5d8ve] Lessor notice');
  });
});

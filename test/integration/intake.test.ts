import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { parseMessage } from '../../src/inbound/parse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyToken } from '../../src/outbound/tokens.js';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { AR_PASS, eml, forwardWithHeaders, outlookForward } from '../helpers/mail.js';

// Incoming mail end to end: journaled, parsed, routed, applied — read back in the database, the
// outbox and the IMAP folders.

const SECRET = 'test-token-secret-0123456789abcdef';
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let home: string;
let deal: string;
let claim: string;
let dovecot: TestDovecot;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

async function ingest(raw: Buffer, name = 'message.eml') {
  const file = path.join(await tempDir(), name);
  await import('node:fs/promises').then((fs) => fs.writeFile(file, raw));
  const r = await dossier(['mail', 'ingest', file, '--json'], env);
  expect(r.stderr).toBe('');
  return r.json()[0] as { id: number; outcome: string; reason: string; ref: string | null; outbox: number[]; duplicate: boolean };
}

/** The decoded text of an outbox message, as `dossier outbox show` gives it (the message as it goes out). */
async function mailText(outboxId: number): Promise<string> {
  const shown = await dossier(['outbox', 'show', String(outboxId), '--json'], env);
  expect(shown.stderr).toBe('');
  return (await parseMessage(Buffer.from(shown.json().eml), { maxMessageBytes: 1e8, maxAttachmentBytes: 1e8, maxAttachments: 100 })).text;
}

async function decisionOf(ref: string, party: string) {
  const r = (await dossier(['field', 'show', ref, '--recipient', party, '--json'], env)).json();
  return Object.fromEntries((r.values as { field: string; value: unknown }[]).filter((v) => v.field.startsWith('decision')).map((v) => [v.field, v.value]));
}

beforeAll(async () => {
  db = await createTestDatabase();
  home = await tempDir();
  dovecot = await startDovecot();
  env = testEnv(db.url, home, {
    DOSSIER_MAIL__TOKEN_SECRET: SECRET,
    DOSSIER_INTAKE__MAILBOXES: `[{name: decisions, host: 127.0.0.1, port: ${dovecot.port}, security: none, user: intake, password: secret}]`,
  });
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  claim = (await dossier(['record', 'import', 'claim', path.join(fixturesDir, 'records', 'claim.json'), '--json'], env)).json()[0].ref;
  await dossier(['record', 'status', deal, 'submitted'], env);
  await dossier(['record', 'status', claim, 'submitted'], env);
});
afterAll(async () => {
  await dovecot.stop();
  await db.drop();
});

const approval = (id: string, extra: Partial<Parameters<typeof outlookForward>[0]> = {}) =>
  outlookForward({
    id,
    command: 'одобрено, сумма 1 500 000',
    bankFrom: 'n.pavlova@bank-sever.example',
    bankName: 'Павлова Наталья Сергеевна',
    bankSubject: 'Решение по заявке Смирнов Алексей Викторович',
    bankText: 'Добрый день!\r\nПо заявке клиента Смирнов Алексей Викторович принято положительное решение: сумма 1 500 000 руб., срок 48 мес.\r\n\r\nС уважением,\r\nПавлова Н.С.\r\nАО «Банк Северный»',
    ...extra,
  });

describe('a manager forwards a bank decision', () => {
  it('applies it: the bank section, the status, the client told by email and SMS, the manager answered, the mail kept', async () => {
    const r = await ingest(approval('fw-approval-1'));
    expect(r).toMatchObject({ outcome: 'applied', ref: deal });
    expect(r.reason).toBe("approved: АО «Банк Северный»: одобрено, сумма 1\u00a0500\u00a0000,00 руб.; status submitted → decided; client client-smirnov notified.");
    expect(await decisionOf(deal, 'bank-sever')).toMatchObject({ decision: 'approved', decision_amount: '1500000.00', decision_date: '2026-11-16' });
    const [rec] = await sql<{ status: string }>('SELECT status FROM records WHERE ref = $1', [deal]);
    expect(rec!.status).toBe('decided');

    const mails = await sql<{ id: number; kind: string; to_addresses: string[]; subject: string }>('SELECT id, kind, to_addresses, subject FROM outbox WHERE id = ANY($1) ORDER BY id', [r.outbox]);
    expect(mails).toEqual([
      { id: expect.any(Number), kind: 'notification', to_addresses: ['a.smirnov@example.ru'], subject: `[${deal}] Решение банка по вашей заявке` },
      { id: expect.any(Number), kind: 'confirmation', to_addresses: ['manager@dossier.example'], subject: expect.stringContaining(`[${deal}]`) },
    ]);
    // The client gets the deal's wording, in words that do not depend on the bank's grammatical gender.
    const notice = await mailText(mails[0]!.id);
    expect(notice).toContain(`Банк ответил по вашей заявке на кредит ${deal}.`);
    expect(notice).toContain('Решение: одобрено');
    expect(notice).toContain('Сумма кредита: 1\u00a0500\u00a0000,00 руб.\n');
    expect(notice).not.toMatch(/руб\.\.|одобрил|страхов/);
    // The manager's confirmation is in one language (the configured one: Russian).
    const confirmation = await mailText(mails[1]!.id);
    expect(confirmation).toContain('АО «Банк Северный» — решение: одобрено.');
    expect(confirmation).toContain('Статус дела: Отправлена в банки → Есть решение банка.');
    expect(confirmation).not.toMatch(/status|notified/);
    // Staff can read a queued email as it will go out: its headers (an automatic reply, threaded
    // under the manager's message) and its body.
    const [row] = await sql<{ message_id: string }>('SELECT message_id FROM outbox WHERE id = $1', [mails[1]!.id]);
    const shown = await dossier(['outbox', 'show', String(mails[1]!.id)], env);
    expect(shown.code).toBe(0);
    const head = shown.stdout.slice(0, shown.stdout.indexOf('\n\n'));
    expect(head).toContain(`Message-ID: ${row!.message_id}`);
    expect(head).toMatch(/^Auto-Submitted: auto-generated$/m);
    expect(head).toMatch(/^In-Reply-To: <\S+>$/m);
    expect(head).toMatch(/^To: manager@dossier\.example$/m);
    const missing = await dossier(['outbox', 'show', '999999'], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('There is no outbox message #999999.');
    const [sms] = await sql<{ to_phone: string; body: string }>('SELECT to_phone, body FROM sms_outbox');
    expect(sms!.to_phone).toBe('+7 916 123-45-67');
    expect(sms!.body).toBe(`Заявка на кредит ${deal}, АО «Банк Северный». Решение: одобрено. Сумма кредита: 1\u00a0500\u00a0000,00 руб. Консультант свяжется с вами.`);
    const evidence = await sql<{ category: string; file_name: string }>("SELECT category, file_name FROM attachments a JOIN records r ON r.id = a.record_id WHERE r.ref = $1 AND category = 'correspondence'", [deal]);
    expect(evidence).toEqual([{ category: 'correspondence', file_name: 'Решение bank-sever 2026-11-16.eml' }]);

    // The worker sends both emails and the SMS (file transport and file gateway: the embedded defaults).
    const w = await dossier(['worker', '--until-idle'], env);
    expect(w.stdout).toMatch(/Sent 2, failed 0/);
    expect(w.stdout).toMatch(/SMS sent: 1/);
    expect((await readdir(path.join(home, 'sms'))).length).toBe(1);
    const history = (await dossier(['record', 'history', deal], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(history).toMatch(/message:\d+\s+field decision \[bank-sever\] set: — → approved/);
    expect(history).toMatch(/status submitted → decided \(reason: одобрено — АО «Банк Северный»\)/);
  });

  it('processes the same message once', async () => {
    const again = await ingest(approval('fw-approval-1'));
    expect(again).toMatchObject({ duplicate: true, outcome: 'applied' });
    expect(again.reason).toMatch(/^already processed/);
    expect((await sql('SELECT 1 FROM inbound_messages')).length).toBe(1);
  });

  it('quarantines a spoofed approval (no passing DKIM from our server) and tells the real manager', async () => {
    const r = await ingest(approval('spoof-1', { auth: null, command: 'одобрено, сумма 9 900 000' }));
    expect(r.outcome).toBe('quarantined');
    expect(r.reason).toContain('without a passing DKIM/DMARC result');
    expect(await decisionOf(deal, 'bank-sever')).toMatchObject({ decision_amount: '1500000.00' });
    const [warn] = await sql<{ to_addresses: string[] }>('SELECT to_addresses FROM outbox WHERE id = ANY($1)', [r.outbox]);
    expect(warn!.to_addresses).toEqual(['manager@dossier.example']);
  });

  it('refuses a decision from a bank that is not on the deal, and says why', async () => {
    const r = await ingest(approval('other-bank-1', { bankFrom: 'loans@bank-yug.example', bankName: 'Банк Юг' }));
    expect(r.outcome).toBe('refused');
    expect(r.reason).toContain('loans@bank-yug.example, which is not a recipient of');
    const [reply] = await sql<{ subject: string }>('SELECT subject FROM outbox WHERE id = ANY($1)', [r.outbox]);
    expect(reply!.subject).toContain('не применено');
  });

  it("tells a claim's client in the claim's wording (email and SMS), not the credit deal's", async () => {
    const r = await ingest(
      outlookForward({
        id: 'fw-claim-1',
        command: 'одобрено, сумма 845 000',
        bankFrom: 'kasko-claims@magistral-ins.example',
        bankName: 'Магистраль-Страхование',
        bankSubject: `Re: [${claim}] Страховой случай Т245КМ750`,
        bankText: 'Событие признано страховым, сумма возмещения 845 000 руб.',
      }),
    );
    expect(r).toMatchObject({ outcome: 'applied', ref: claim });
    const [notice] = await sql<{ id: number; subject: string }>("SELECT id, subject FROM outbox WHERE id = ANY($1) AND kind = 'notification'", [r.outbox]);
    expect(notice!.subject).toBe(`[${claim}] Решение страховщика по вашему страховому случаю`);
    const text = await mailText(notice!.id);
    expect(text).toContain(`Страховая компания ответила по вашему страховому случаю ${claim}.`);
    expect(text).toContain('Решение: случай признан страховым');
    expect(text).toContain('Сумма возмещения: 845\u00a0000,00 руб.\n');
    expect(text).not.toMatch(/кредит|банк|руб\.\./i);
    const [sms] = await sql<{ body: string }>('SELECT body FROM sms_outbox WHERE to_phone = $1', ['+7 496 790-12-34']);
    expect(sms!.body).toBe(`Страховой случай ${claim}, АО «СК «Магистраль-Страхование». Решение: признан страховым. Сумма возмещения: 845\u00a0000,00 руб.`);
  });

  it('ignores an auto-reply without answering it', async () => {
    const r = await ingest(
      eml([
        'From: Павлова Наталья <n.pavlova@bank-sever.example>',
        'To: intake@dossier.example',
        `Subject: =?UTF-8?B?${Buffer.from('Автоматический ответ: Заявка Смирнов').toString('base64')}?=`,
        'Auto-Submitted: auto-replied',
        'X-Auto-Response-Suppress: All',
        'Message-ID: <oof-1@bank-sever.example>',
        'Date: Mon, 16 Nov 2026 11:00:00 +0300',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Я в отпуске до 30 ноября.',
      ]),
    );
    expect(r).toMatchObject({ outcome: 'ignored', outbox: [] });
    expect(r.reason).toContain('auto-reply');
  });
});

describe('an outside party replies with documents', () => {
  it('adds the lawyer\'s documents and note to the claim, acknowledges, and nobody else can use the token', async () => {
    const token = replyToken(SECRET, claim, 'lawyer-ershov');
    const pdf = (await import('node:fs/promises')).readFile(path.join(fixturesDir, 'scans', 'police-report-cl.pdf'));
    const reply = async (from: string, id: string) =>
      eml([
        `From: =?UTF-8?B?${Buffer.from('Ершов Андрей').toString('base64')}?= <${from}>`,
        `To: intake+${claim.toLowerCase()}.${token}@dossier.example`,
        `Subject: =?UTF-8?B?${Buffer.from(`Re: [${claim} ${token}] Материалы по страховому случаю`).toString('base64')}?=`,
        `Message-ID: <${id}@ershov-law.example>`,
        'Date: Tue, 17 Nov 2026 12:00:00 +0300',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Направляю претензию и определение суда.',
        '',
        '> Чтобы добавить документы к делу, просто ответьте на это письмо',
        '--b1',
        `Content-Type: application/pdf; name="=?UTF-8?B?${Buffer.from('Претензия.pdf').toString('base64')}?="`,
        'Content-Disposition: attachment',
        'Content-Transfer-Encoding: base64',
        '',
        (await pdf).toString('base64'),
        '--b1--',
      ]);
    const r = await ingest(await reply('a.ershov@ershov-law.example', 'lawyer-1'));
    expect(r).toMatchObject({ outcome: 'applied', ref: claim });
    expect(r.reason).toBe(`1 document(s) and a note from lawyer-ershov added to ${claim}`);
    const files = await sql<{ file_name: string; category: string; content_type: string }>("SELECT file_name, category, content_type FROM attachments a JOIN records r ON r.id = a.record_id WHERE r.ref = $1 AND a.source = 'message' AND a.category <> 'correspondence'", [claim]);
    expect(files).toEqual([{ file_name: 'Претензия.pdf', category: 'incoming', content_type: 'application/pdf' }]);
    const history = (await dossier(['record', 'history', claim], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(history).toContain('note: Направляю претензию и определение суда.');
    const [ack] = await sql<{ kind: string; to_addresses: string[] }>('SELECT kind, to_addresses FROM outbox WHERE id = ANY($1)', [r.outbox]);
    expect(ack).toEqual({ kind: 'acknowledgement', to_addresses: ['a.ershov@ershov-law.example'] });

    const stolen = await ingest(await reply('a.ivanov@other-law.example', 'stolen-1'));
    expect(stolen.outcome).toBe('quarantined');
    expect(stolen.reason).toContain('the reply token of lawyer-ershov was used from a.ivanov@other-law.example');
  });
});

describe('IMAP intake (Dovecot)', () => {
  it('takes a forwarded decision from the mailbox, applies it and files the message under Dossier/Processed', async () => {
    await dovecot.append(
      'intake',
      outlookForward({
        id: 'imap-volga-1',
        command: 'отказ',
        bankFrom: 'autoloans@volga-credit.example.ru',
        bankName: 'ПАО «Волга-Кредит Банк»',
        bankSubject: 'Заявка Смирнов А.В.',
        bankText: 'По заявке Смирнов А.В. принято отрицательное решение.',
      }),
    );
    const w = await dossier(['worker', '--until-idle'], env);
    expect(w.code).toBe(0);
    expect(w.stdout).toMatch(/Received: 1 applied/);
    expect(await decisionOf(deal, 'bank-volga')).toMatchObject({ decision: 'declined' });
    const c = dovecot.client('intake');
    await c.connect();
    try {
      const inbox = await c.status('INBOX', { messages: true });
      const processed = await c.status('Dossier/Processed', { messages: true });
      expect(inbox && inbox.messages).toBe(0);
      expect(processed && processed.messages).toBe(1);
    } finally {
      await c.logout();
    }
    const [row] = await sql<{ mailbox: string; uid: number; outcome: string }>("SELECT mailbox, uid, outcome FROM inbound_messages WHERE mailbox = 'decisions'");
    expect(row).toMatchObject({ mailbox: 'decisions', outcome: 'applied' });
    const [state] = await sql<{ last_ok_at: Date | null; last_error: string | null }>("SELECT last_ok_at, last_error FROM mailbox_state WHERE mailbox = 'decisions'");
    expect(state!.last_error).toBeNull();
    expect(state!.last_ok_at).not.toBeNull();
  });

  it('answers a flood of forged staff mail three times an hour, in arrival order across fetched batches', async () => {
    // 40 forgeries of the manager's address (a pass written by the sender, no Received of our MTA):
    // two IMAP batches of 25, the second fetched and journaled while the first is applied.
    const before = await sql<{ n: number }>("SELECT count(*)::int AS n FROM inbound_messages WHERE from_address = 'manager@dossier.example' AND authenticated = false AND received_at > now() - interval '1 hour'");
    const answers = Math.max(0, 3 - before[0]!.n);
    for (let i = 0; i < 40; i++) await dovecot.append('intake', forwardWithHeaders(`imap-flood-${i}`, (h) => [AR_PASS, ...h]));
    const w = await dossier(['worker', '--until-idle'], env);
    expect(w.code, w.stderr).toBe(0);
    const rows = await sql<{ uid: number; outcome: string; reason: string }>("SELECT uid, outcome, reason FROM inbound_messages WHERE message_id LIKE '<imap-flood-%' ORDER BY id");
    expect(rows).toHaveLength(40);
    // Journaled in the order the mailbox holds them, and answered in that order: the first ones only.
    expect(rows.map((r) => r.uid)).toEqual([...rows.map((r) => r.uid)].sort((a, b) => a - b));
    expect(rows.every((r) => r.outcome === 'quarantined')).toBe(true);
    expect(rows.map((r) => !/not answered/.test(r.reason))).toEqual(Array.from({ length: 40 }, (_, i) => i < answers));
    const c = dovecot.client('intake');
    await c.connect();
    try {
      const inbox = await c.status('INBOX', { messages: true });
      expect(inbox && inbox.messages).toBe(0);
    } finally {
      await c.logout();
    }
  });
});

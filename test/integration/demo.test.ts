import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

// `dossier demo`, the README's first command: the whole story, then the records it leaves are
// checked the way a user would look at them — and a second run tells the same story again.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let home: string;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
  home = await tempDir();
  env = testEnv(db.url, home, { DOSSIER_INTAKE__STAFF_AUTH__MODE: 'dkim' }); // as shipped: the demo's staff mail is verified by DKIM, not a header
});
afterAll(() => db.drop());

async function decision(ref: string, party: string): Promise<Record<string, unknown>> {
  const r = (await dossier(['field', 'show', ref, '--recipient', party, '--json'], env)).json();
  return Object.fromEntries((r.values as { field: string; value: unknown }[]).filter((v) => v.field.startsWith('decision')).map((v) => [v.field, v.value]));
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

describe('dossier demo', () => {
  it('tells the whole story: packages out, a day of mail in, each with its outcome, and the timelines', async () => {
    const run = await dossier(['demo'], env);
    expect(run.code).toBe(0);
    // The timelines' last column wraps to fit 80 columns: joined back here.
    const out = run.stdout.replace(/\n {20,}/g, ' ');
    const deal = /1\. Deal (DL-\d{4}-\d{5}): \d{3} values, parties client-smirnov, bank-sever, bank-volga, bank-meridian/.exec(out)![1]!;
    const claim = /Claim (CL-\d{4}-\d{5}): \d{3} values, parties translogistic, insurer-magistral, broker-garant, lessor-lpi, lawyer-ershov/.exec(out)![1]!;
    expect(out).toContain(`   ${deal}: for bank-meridian, bank-sever, bank-volga — 3 email(s); status new → submitted.`);
    expect(out).toContain(`   ${claim}: for broker-garant, insurer-magistral, lawyer-ershov, lessor-lpi — 4 email(s); status reported → submitted.`);
    // Each step numbered once; counts of this run, not of the database; no raw Message-IDs.
    const steps = out.match(/^\d\./gm)!;
    expect(steps).toEqual(steps.map((_, i) => `${i + 1}.`));
    expect(steps.length).toBeGreaterThanOrEqual(5);
    expect(out).toContain('7 of the 7 package email(s) sent');
    expect(out).not.toMatch(/<[^<>\s]+@[^<>\s]+>/);
    expect(out).toMatch(/← 01-outlook-ru-forward-approved\.eml: applied/);
    // The way to real mail fits the shipped configuration: file transport, no IMAP mailboxes yet.
    expect(out).toContain('Run it for real:');
    expect(out).toContain('- mail.transport: smtp and mail.smtp');
    expect(out).toContain('- intake.mailboxes (the IMAP mailbox managers forward to)');
    expect(out).toMatch(/01-outlook-ru-forward-approved\.eml: applied — approved: АО «Банк Северный»: одобрено, сумма 1\u00a0500\u00a0000,00 руб\.; status submitted → decided/);
    expect(out).toMatch(/02-gmail-ru-forward-declined\.eml: applied — declined: ПАО «Волга-Кредит Банк»: отказ/);
    expect(out).toMatch(/21-lawyer-reply-two-pdfs\.eml: applied — 2 document\(s\) and a note from lawyer-ershov added to CL-/);
    expect(out).toMatch(/25-exchange-autoreply-ru\.eml: ignored — auto-reply/);
    expect(out).toMatch(/18-spoof-no-auth-results\.eml: quarantined — mail from staff address manager@dossier\.example without a passing DKIM\/DMARC result/);
    // The timelines: the decision from the message, the lawyer's documents, the mail sent.
    expect(out).toMatch(new RegExp(`${deal}\\nwhen`));
    expect(out).toMatch(/message:\d+\s+field decision_amount \[bank-sever\] set: — → 1500000\.00/);
    expect(out).toMatch(/message:\d+\s+attachment #\d+ Заключение эксперта № 118-26\.pdf \(incoming/);
    expect(out).toMatch(/package for lawyer-ershov built: .+\.zip/);
    expect(out).toMatch(/worker:\d+\s+email #\d+ sent to a\.smirnov@example\.ru/);
    expect(out).toContain(`emails sent (.eml)         ${path.join(home, 'outbox')}`);
    // Issue 17: checklists, the reused photo, deadlines.
    expect(out).toContain('bank-meridian: missing — ПТС приобретаемого автомобиля: нет');
    expect(out).toMatch(new RegExp(`IMG_5120\\.jpg is a near-identical photo \\(\\d+% similar\\) as #\\d+ scene-photo-1\\.jpg on ${claim}`));
    expect(out).toContain(`${deal} bank-sever: decision in 5 working day(s) — answered`);
    expect(out).toContain(`${deal} bank-meridian: decision in 5 working day(s) — waiting`);
    // Issue 17: approvals by reply through the intake (a forged one not counted), then the worker's reminders and digest.
    expect(out).toContain(`9. Approvals by reply (dossier approval start ${deal} --chain contract): «Анкета-заявление bank-sever.docx» goes to lawyer@dossier.example, then director@dossier.example:`);
    expect(out).toMatch(/lawyer@dossier\.example replies «Согласовано»: applied — approval #\d+ \(Анкета-заявление bank-sever\.docx\): step 1 of 2 approved by lawyer@dossier\.example; sent to director@dossier\.example/);
    expect(out).toMatch(/a forged «Согласовано» in director@dossier\.example's name, sent from an outside server: quarantined — reply to approval #\d+ \(DL-\d{4}-\d{5}\) not counted: the mail from director@dossier\.example is not authenticated/);
    expect(out).toMatch(/director@dossier\.example replies «Согласовано, подписываю»: applied — .* approved by all/);
    expect(out).toContain(`dossier approval ${deal}: approved; lawyer@dossier.example approved, director@dossier.example approved; 1 reply not counted.`);
    expect(out).toContain(`${deal} bank-meridian: reminder sent (decision overdue)`);
    expect(out).toContain(`${claim} insurer-magistral: reminder sent (acknowledgement overdue)`);
    expect(out).toContain('digest to staff: 2 overdue, 0 due soon');
    const approval = (await dossier(['approval', deal, '--json'], env)).json().approvals;
    expect(approval.map((a: { status: string; steps: { state: string }[] }) => [a.status, a.steps.map((x) => x.state)])).toEqual([['approved', ['approved', 'approved']]]);

    // What a user finds afterwards.
    const [rec] = await sql<{ status: string }>('SELECT status FROM records WHERE ref = $1', [deal]);
    expect(rec!.status).toBe('decided');
    expect(await decision(deal, 'bank-sever')).toMatchObject({ decision: 'approved', decision_amount: '1500000.00' });
    expect(await decision(deal, 'bank-volga')).toMatchObject({ decision: 'declined' });
    const claimShow = (await dossier(['record', 'show', claim, '--json'], env)).json();
    expect(claimShow.attachments.filter((a: { category: string }) => a.category === 'incoming').map((a: { file_name: string }) => a.file_name).sort()).toEqual(['Заключение эксперта № 118-26.pdf', 'Постановление ГИБДД.pdf']);
    const journal = await sql<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM inbound_messages GROUP BY outcome ORDER BY outcome');
    expect(journal).toEqual([{ outcome: 'applied', n: 5 }, { outcome: 'ignored', n: 1 }, { outcome: 'quarantined', n: 2 }]);
    const outbox = await sql<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM outbox GROUP BY status');
    expect(outbox).toEqual([{ status: 'sent', n: expect.any(Number) }]);
    // 7 packages, 2 client notices, 2 confirmations, the lawyer's acknowledgement, the warning about the spoof;
    // issue 17: 2 approval requests and staff's notice of the approval, 2 reminders and the digest.
    expect(outbox[0]!.n).toBe(19);
    const emls = (await filesUnder(path.join(home, 'outbox'))).filter((f) => f.endsWith('.eml'));
    expect(emls).toHaveLength(19);
    const sms = await filesUnder(path.join(home, 'sms'));
    expect(sms).toHaveLength(2);
    expect(await readFile(sms.sort()[0]!, 'utf8')).toContain('Решение: одобрено. Сумма кредита: 1\u00a0500\u00a0000,00 руб.');
    expect((await readdir(path.join(home, 'inbox', '.Processed', 'cur'))).length).toBe(4);
    expect((await readdir(path.join(home, 'inbox', '.Quarantine', 'cur'))).length).toBe(1);
  }, 120_000);

  it('runs again: new records, the same story, nothing taken for a duplicate', async () => {
    const second = await dossier(['demo', '--json'], env);
    expect(second.code).toBe(0);
    const r = second.json() as { deal: string; claim: string; incoming: { outcome: string }[]; packagesSent: number };
    expect(r.deal).toMatch(/^DL-\d{4}-00002$/);
    expect(r.claim).toMatch(/^CL-\d{4}-00002$/);
    expect(r.packagesSent).toBe(7);
    expect(r.incoming.map((m) => m.outcome), JSON.stringify(r.incoming, null, 1)).toEqual(['applied', 'applied', 'applied', 'ignored', 'quarantined']);
    expect(await decision(r.deal, 'bank-sever')).toMatchObject({ decision: 'approved', decision_amount: '1500000.00' });
    const list = (await dossier(['record', 'list', '--type', 'deal', '--json'], env)).json();
    expect(list).toHaveLength(2);
  }, 120_000);
});

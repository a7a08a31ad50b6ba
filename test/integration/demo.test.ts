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
  env = testEnv(db.url, home);
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
    const out = run.stdout;
    const deal = /1\. Deal (DL-\d{4}-\d{5}): \d{3} values, parties client-smirnov, bank-sever, bank-volga, bank-meridian/.exec(out)![1]!;
    const claim = /Claim (CL-\d{4}-\d{5}): \d{3} values, parties translogistic, insurer-magistral, broker-garant, lessor-lpi, lawyer-ershov/.exec(out)![1]!;
    expect(out).toContain(`${deal}: packages for bank-meridian, bank-sever, bank-volga built`);
    expect(out).toContain(`${claim}: packages for broker-garant, insurer-magistral, lawyer-ershov, lessor-lpi built`);
    expect(out).toMatch(/01-outlook-ru-forward-approved\.eml: applied — approved: АО «Банк Северный»: одобрено, сумма 1\u00a0500\u00a0000,00 руб\.; status submitted → decided/);
    expect(out).toMatch(/02-gmail-ru-forward-declined\.eml: applied — declined: ПАО «Волга-Кредит Банк»: отказ/);
    expect(out).toMatch(/21-lawyer-reply-two-pdfs\.eml: applied — 2 document\(s\) and a note from lawyer-ershov added to CL-/);
    expect(out).toMatch(/25-exchange-autoreply-ru\.eml: ignored — auto-reply/);
    expect(out).toMatch(/18-spoof-no-auth-results\.eml: quarantined — mail from staff address manager@dossier\.example without a passing DKIM\/DMARC result/);
    // The timelines: the decision from the message, the lawyer's documents, the mail sent.
    expect(out).toMatch(new RegExp(`${deal}\\nwhen`));
    expect(out).toMatch(/message:\d+\s+field decision_amount \[bank-sever\] set: — → 1500000\.00/);
    expect(out).toMatch(/message:\d+\s+attachment Заключение эксперта № 118-26\.pdf \(incoming/);
    expect(out).toMatch(/package for lawyer-ershov built: .+\.zip/);
    expect(out).toMatch(/worker:\d+\s+email #\d+ sent to a\.smirnov@example\.ru/);
    expect(out).toContain(`emails sent (.eml)         ${path.join(home, 'outbox')}`);

    // What a user finds afterwards.
    const [rec] = await sql<{ status: string }>('SELECT status FROM records WHERE ref = $1', [deal]);
    expect(rec!.status).toBe('decided');
    expect(await decision(deal, 'bank-sever')).toMatchObject({ decision: 'approved', decision_amount: '1500000.00' });
    expect(await decision(deal, 'bank-volga')).toMatchObject({ decision: 'declined' });
    const claimShow = (await dossier(['record', 'show', claim, '--json'], env)).json();
    expect(claimShow.attachments.filter((a: { category: string }) => a.category === 'incoming').map((a: { file_name: string }) => a.file_name).sort()).toEqual(['Заключение эксперта № 118-26.pdf', 'Постановление ГИБДД.pdf']);
    const journal = await sql<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM inbound_messages GROUP BY outcome ORDER BY outcome');
    expect(journal).toEqual([{ outcome: 'applied', n: 3 }, { outcome: 'ignored', n: 1 }, { outcome: 'quarantined', n: 1 }]);
    const outbox = await sql<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM outbox GROUP BY status');
    expect(outbox).toEqual([{ status: 'sent', n: expect.any(Number) }]);
    // 7 packages, 2 client notices, 2 confirmations, the lawyer's acknowledgement, the warning about the spoof.
    expect(outbox[0]!.n).toBe(13);
    const emls = (await filesUnder(path.join(home, 'outbox'))).filter((f) => f.endsWith('.eml'));
    expect(emls).toHaveLength(13);
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
    expect(r.incoming.map((m) => m.outcome)).toEqual(['applied', 'applied', 'applied', 'ignored', 'quarantined']);
    expect(await decision(r.deal, 'bank-sever')).toMatchObject({ decision: 'approved', decision_amount: '1500000.00' });
    const list = (await dossier(['record', 'list', '--type', 'deal', '--json'], env)).json();
    expect(list).toHaveLength(2);
  }, 120_000);
});

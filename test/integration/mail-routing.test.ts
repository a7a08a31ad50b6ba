import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { AR_PASS, MTA_RECEIVED, eml, outlookForward } from '../helpers/mail.js';

// Routing of mail as it really arrives, through the real intake and database (issue 14): the
// decision date is the day the sender meant, not the UTC day; a forwarded bank mail whose own subject
// carries our tag finds its record; a refusal names a handful of candidate records, not all of them;
// several From addresses authorise nothing; an Outlook .msg file is named as such.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);
const b64 = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: 'test-token-secret-0123456789abcdef' });
}, 120_000);
afterAll(async () => {
  await db.drop();
});

async function newDeal(): Promise<string> {
  const ref = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref as string;
  const s = await dossier(['record', 'status', ref, 'submitted'], env);
  expect(s.code, s.stderr).toBe(0);
  return ref;
}

async function ingest(name: string, raw: Buffer) {
  const file = path.join(await tempDir(), name);
  await writeFile(file, raw);
  const r = await dossier(['mail', 'ingest', file, '--json'], env);
  return { code: r.code, row: r.json()[0] as { id: number; outcome: string; reason: string; ref: string | null; outbox?: number[] } };
}

async function decisionDate(ref: string): Promise<string | null> {
  const [row] = await sql<{ value: string }>(
    "SELECT fv.value #>> '{}' AS value FROM field_values fv JOIN records r ON r.id = fv.record_id WHERE r.ref = $1 AND fv.field_id = 'decision_date' ORDER BY fv.id DESC LIMIT 1",
    [ref],
  );
  return row?.value ?? null;
}

/** A manager forwarding the bank's mail as an attachment (message/rfc822), as Outlook and Thunderbird do. */
function forwardAsAttachment(o: { id: string; subject: string; command: string; bankDate: string; bankSubject: string }): Buffer {
  return eml([
    AR_PASS,
    MTA_RECEIVED,
    `From: ${b64('Мария Кузнецова')} <manager@dossier.example>`,
    'To: intake@dossier.example',
    `Subject: ${b64(o.subject)}`,
    'Date: Sun, 6 Dec 2026 09:00:00 +0300',
    `Message-ID: <${o.id}@dossier.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="fw"',
    '',
    '--fw',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    o.command,
    '',
    '--fw',
    'Content-Type: message/rfc822',
    'Content-Disposition: attachment; filename="decision.eml"',
    '',
    'From: =?UTF-8?B?0J/QsNCy0LvQvtCy0LAg0J0uINChLg==?= <n.pavlova@bank-sever.example>',
    'To: manager@dossier.example',
    `Subject: ${b64(o.bankSubject)}`,
    `Date: ${o.bankDate}`,
    `Message-ID: <${o.id}-bank@bank-sever.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Принято положительное решение: сумма 1 500 000 руб.',
    '',
    '--fw--',
  ]);
}

describe('mail routing on real-world shapes', () => {
  it('stores the decision date as the day in the sender’s offset, not the UTC day', async () => {
    const ref = await newDeal();
    // 01:10 in Moscow on 6 December is still 5 December in UTC.
    const raw = forwardAsAttachment({ id: 'date-offset', subject: `FW: [${ref}] Решение банка`, command: 'одобрено, сумма 1 500 000', bankDate: 'Sun, 6 Dec 2026 01:10:00 +0300', bankSubject: 'Решение по заявке' });
    const { row } = await ingest('date.eml', raw);
    expect(row).toMatchObject({ outcome: 'applied', ref });
    expect(await decisionDate(ref)).toBe('2026-12-06');
  });

  it('finds the record by the forwarded mail’s own subject tag when the manager’s subject has none', async () => {
    const ref = await newDeal();
    const raw = forwardAsAttachment({ id: 'fw-tag', subject: 'FW: Решение по заявке', command: 'одобрено, сумма 1 200 000', bankDate: 'Fri, 4 Dec 2026 15:00:00 +0300', bankSubject: `Re: [${ref}] Пакет документов` });
    const { row } = await ingest('fw-tag.eml', raw);
    expect(row).toMatchObject({ outcome: 'applied', ref });
    expect(await decisionDate(ref)).toBe('2026-12-04');
  });

  it('refuses a decision whose client matches many records, naming a handful of them', async () => {
    for (let i = 0; i < 7; i++) await newDeal();
    const raw = outlookForward({
      id: 'many-names',
      command: 'одобрено, сумма 1 000 000',
      bankFrom: 'n.pavlova@bank-sever.example',
      bankName: 'Павлова Наталья Сергеевна',
      bankSubject: 'Решение по заявке Смирнов Алексей Викторович',
      bankText: 'Принято положительное решение.',
    });
    const { row } = await ingest('names.eml', raw);
    expect(row.outcome).toBe('refused');
    const named = row.reason.match(/DL-\d{4}-\d{5}/g) ?? [];
    expect(named.length).toBe(5);
    expect(row.reason).toMatch(/… \d+ more/);
    // The manager is told why, by mail.
    const mails = await sql<{ to_addresses: string[] }>('SELECT to_addresses FROM outbox WHERE id = ANY($1)', [row.outbox ?? []]);
    expect(mails.map((m) => m.to_addresses.join(','))).toEqual([expect.stringContaining('manager@dossier.example')]);
  });

  it('never lets a message with several From addresses authorise anything', async () => {
    const ref = await newDeal();
    const raw = eml([
      AR_PASS,
      MTA_RECEIVED,
      'From: manager@dossier.example, attacker@evil.example',
      'To: intake@dossier.example',
      `Subject: [${ref}] approved`,
      'Date: Sun, 6 Dec 2026 09:00:00 +0300',
      '',
      'одобрено, сумма 9 999 999',
    ]);
    const { row } = await ingest('two-from.eml', raw);
    expect(row.outcome).toBe('quarantined');
    expect(row.reason).toMatch(/2 senders|From/);
    expect(await decisionDate(ref)).toBeNull();
  });

  it('names an Outlook .msg file as such instead of an unknown sender', async () => {
    const msg = Buffer.alloc(4096);
    Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(msg, 0);
    Buffer.from('__substg1.0_0037001F', 'utf16le').copy(msg, 1024);
    const { row } = await ingest('decision.msg', msg);
    expect(row.outcome).toBe('quarantined');
    expect(row.reason).toContain('Outlook .msg');
    expect(row.reason).not.toContain('unknown sender');
  });

  it('applies a re-delivered message once: the same Message-ID from the same sender, one more Received line', async () => {
    const ref = await newDeal();
    const raw = forwardAsAttachment({ id: 'redelivered', subject: `FW: [${ref}] Решение банка`, command: 'одобрено, сумма 1 100 000', bankDate: 'Thu, 3 Dec 2026 12:00:00 +0300', bankSubject: 'Решение по заявке' });
    const first = await ingest('first.eml', raw);
    expect(first.row).toMatchObject({ outcome: 'applied', ref });
    const again = Buffer.concat([Buffer.from('Received: from mx2.dossier.example by mx.dossier.example; Thu, 3 Dec 2026 12:05:00 +0300\r\n'), raw]);
    const second = await ingest('second.eml', again);
    expect(second.row.outcome).toBe('ignored');
    expect(second.row.reason).toContain(`a copy of message #${first.row.id}`);
    expect(second.row.outbox ?? []).toEqual([]);
    const decisions = await sql<{ n: number }>("SELECT count(*)::int AS n FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.kind = 'field_set' AND e.field = 'decision'", [ref]);
    expect(decisions[0]!.n).toBe(1);
  });

  it('does not let a forged copy sent first shut out the real message with the same Message-ID', async () => {
    const ref = await newDeal();
    const real = forwardAsAttachment({ id: 'raced', subject: `FW: [${ref}] Решение банка`, command: 'одобрено, сумма 1 300 000', bankDate: 'Wed, 2 Dec 2026 12:00:00 +0300', bankSubject: 'Решение по заявке' });
    const forged = Buffer.from(real.toString('latin1').replace(AR_PASS + '\r\n', ''), 'latin1');
    expect((await ingest('forged-first.eml', forged)).row.outcome).toBe('quarantined');
    expect((await ingest('real-second.eml', real)).row).toMatchObject({ outcome: 'applied', ref });
  });

  it('lets staff declare a party\'s own mail domains, never a public provider\'s, audited', async () => {
    const add = await dossier(['party', 'add', 'lawyer-kovalev', '--kind', 'lawyer', '--name', 'Ковалёв и партнёры', '--email', 'i.kovalev@kovalev-law.example'], env);
    expect(add.code, add.stderr).toBe(0);
    const gmail = await dossier(['party', 'edit', 'lawyer-kovalev', '--domain', 'gmail.com'], env);
    expect(gmail.code).toBe(1);
    expect(gmail.stderr).toContain('"gmail.com" is a public mail provider');
    const ok = await dossier(['party', 'edit', 'lawyer-kovalev', '--domain', 'Kovalev-Law.example'], env);
    expect(ok.code, ok.stderr).toBe(0);
    const [row] = await sql<{ domains: string[] }>("SELECT domains FROM parties WHERE key = 'lawyer-kovalev'");
    expect(row!.domains).toEqual(['kovalev-law.example']);
    const events = await sql<{ field: string; new_value: unknown }>("SELECT e.field, e.new_value FROM events e JOIN parties p ON p.id = e.party_id WHERE p.key = 'lawyer-kovalev' AND e.kind = 'party_changed'");
    expect(events).toEqual([{ field: 'domains', new_value: ['kovalev-law.example'] }]);
  });
});

import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cliWorld, b64 } from '../helpers/cli-world.js';
import { AR_PASS, MTA_RECEIVED } from '../helpers/mail.js';
import { smtpEnv, startSmtp, type Received, type TestSmtp } from '../helpers/smtp.js';

// Approvals by reply (issue 17) against real PostgreSQL, a real SMTP server and the real intake
// (`mail ingest`): a chain of two approvers (the shipped configuration's contract chain: the lawyer,
// then the director) approves a contract; a rejection returns it to staff with the reason; a forged
// approval (no authentication our MTA vouches for) is not counted.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const { sql, run, deliverAll } = cliWorld(() => ({ db, env }));
let smtp: TestSmtp;
let deal: string;
let n = 0;
/** The approver's reply to our request, as their mail client writes it; `authenticated`: through our MTA with its passing verdict. */
async function reply(to: Received, from: string, text: string, authenticated: boolean | string[] = true): Promise<{ outcome: string; reason: string }> {
  const file = path.join(await tempDir(), `reply-${++n}.eml`);
  const lines = [
    ...(Array.isArray(authenticated) ? authenticated : authenticated ? [AR_PASS, MTA_RECEIVED] : []),
    `From: ${from}`,
    'To: intake@dossier.example',
    `Subject: ${b64(`Re: ${to.mail.subject}`)}`,
    `Message-ID: <approval-reply-${n}-${Date.now()}@dossier.example>`,
    `In-Reply-To: ${to.mail.messageId}`,
    'Date: Mon, 07 Dec 2026 10:00:00 +0300',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
    '',
    '> Просим согласовать документ',
    '',
  ];
  await writeFile(file, lines.join('\r\n'));
  return (await run('mail', 'ingest', file, '--json')).json()[0];
}
const lastTo = (address: string, subject: string) => [...smtp.received].reverse().find((m) => m.envelopeTo.includes(address) && (m.mail.subject ?? '').includes(subject));

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
  env = testEnv(db.url, await tempDir(), { ...smtpEnv(smtp.port), DOSSIER_MAIL__RETRY__DELAY_SECONDS: '1', DOSSIER_MAIL__RETRY__BACKOFF: 'false' });
  deal = (await run('record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json')).json()[0].ref;
  const contract = path.join(await tempDir(), 'Договор поручения.pdf');
  await copyFile(path.join(fixturesDir, 'scans', 'income-2ndfl-smirnov.pdf'), contract);
  await run('attach', deal, contract, '--category', 'contracts');
});
afterAll(async () => {
  await smtp?.stop();
  await db?.drop();
});

describe('approvals by reply', () => {
  it('a chain of two: the lawyer, then the director; a forged approval in between is not counted', async () => {
    const started = (await run('approval', 'start', deal, '--json')).json();
    expect(started).toMatchObject({ ref: deal, chain: 'contract', file: 'Договор поручения.pdf', status: 'pending' });
    expect(started.steps.map((s: { approver: string; state: string }) => `${s.approver}:${s.state}`)).toEqual(['lawyer@dossier.example:asked', 'director@dossier.example:waiting']);
    await deliverAll();
    const toLawyer = lastTo('lawyer@dossier.example', `[APR-${started.id}]`)!;
    expect(toLawyer.mail.subject).toBe(`[${deal}] [APR-${started.id}] Согласование: Договор — Договор поручения.pdf (шаг 1 из 2)`);
    expect(toLawyer.mail.attachments.map((a) => a.filename)).toEqual(['Договор поручения.pdf']);
    expect(toLawyer.mail.text).toContain('«отклонено: причина»');

    // Someone writes "approved" from the lawyer's address, without anything our MTA vouches for.
    const forged = await reply(toLawyer, 'lawyer@dossier.example', 'Согласовано', false);
    expect(forged.outcome).toBe('quarantined');
    expect(forged.reason).toMatch(/not counted: the mail from lawyer@dossier\.example is not authenticated/);
    // The director answering out of turn does not count either.
    const early = await reply(toLawyer, 'director@dossier.example', 'согласовано');
    expect(early.outcome).toBe('quarantined');
    expect(early.reason).toContain("it is step 1's turn (lawyer@dossier.example), not director@dossier.example's (step 2)");
    let v = (await run('approval', deal, '--json')).json().approvals[0];
    expect(v.steps.map((s: { state: string }) => s.state)).toEqual(['asked', 'waiting']);

    const first = await reply(toLawyer, 'Юрист <lawyer@dossier.example>', 'Согласовано.\n\nС уважением,\nюрист');
    expect(first).toMatchObject({ outcome: 'applied' });
    expect(first.reason).toContain('step 1 of 2 approved by lawyer@dossier.example; sent to director@dossier.example');
    await deliverAll();
    const toDirector = lastTo('director@dossier.example', `[APR-${started.id}]`)!;
    expect(toDirector.mail.subject).toContain('(шаг 2 из 2)');
    expect(toDirector.mail.text).toMatch(/Уже согласовали:\n\s+согласовано: Юрист \(lawyer@dossier\.example\), \d\d\.\d\d\.\d{4}/);
    expect(toDirector.mail.attachments).toHaveLength(1);

    const second = await reply(toDirector, 'director@dossier.example', 'Approved, thanks');
    expect(second.outcome).toBe('applied');
    expect(second.reason).toContain('approved by all');
    await deliverAll();
    const done = lastTo('manager@dossier.example', 'Согласовано: Договор')!;
    expect(done.mail.text).toContain(`Документ «Договор поручения.pdf» по заявке ${deal} согласован всеми (2)`);

    v = (await run('approval', deal, '--json')).json().approvals[0];
    expect(v.status).toBe('approved');
    expect(v.steps.map((s: { approver: string; state: string; decidedAt: string | null }) => [s.approver, s.state, Boolean(s.decidedAt)])).toEqual([
      ['lawyer@dossier.example', 'approved', true],
      ['director@dossier.example', 'approved', true],
    ]);
    expect(v.steps[1].reason).toBe('thanks');
    expect(v.notCounted.map((x: { from: string }) => x.from)).toEqual(['lawyer@dossier.example', 'director@dossier.example']);
    const text = (await run('approval', deal)).stdout;
    expect(text).toContain(`Approval #${started.id} of ${deal}: Договор — #${started.attachment} Договор поручения.pdf — APPROVED`);
    expect(text).toMatch(/not counted .*lawyer@dossier\.example — the mail from lawyer@dossier\.example is not authenticated/);

    const events = await sql<{ kind: string; actor: string }>("SELECT kind, actor FROM events WHERE kind LIKE 'approval_%' AND field = $1 ORDER BY id", [`approval:${started.id}`]);
    expect(events.map((e) => e.kind)).toEqual(['approval_started', 'approval_requested', 'approval_not_counted', 'approval_not_counted', 'approval_approved', 'approval_requested', 'approval_approved', 'approval_completed']);
    expect(events[0]!.actor).toBe('cli:tester');
    expect(events[4]!.actor).toMatch(/^message:\d+$/);
    const shown = (await run('record', 'show', deal)).stdout;
    expect(shown).toContain(`APPROVALS (dossier approval ${deal}):`);
    expect(shown).toContain(`#${started.id} Договор — #${started.attachment} Договор поручения.pdf: approved; lawyer@dossier.example approved, director@dossier.example approved`);
    const history = (await run('record', 'history', deal)).stdout.replace(/\n {20,}/g, ' ');
    expect(history).toContain(`approval #${started.id}: step 1 of 2 approved by lawyer@dossier.example`);
    expect(history).toMatch(new RegExp(`approval #${started.id}: a reply from lawyer@dossier\\.example NOT counted — the mail from lawyer@dossier\\.example is not authenticated`));
    // A late reply to a finished approval changes nothing.
    expect((await reply(toDirector, 'director@dossier.example', 'отклонено: передумал')).outcome).toBe('refused');
  });

  it('a rejection returns the document to staff with the reason', async () => {
    const doc = (await sql<{ id: number }>("SELECT id::int FROM attachments WHERE category = 'contracts'"))[0]!.id;
    const again = await dossier(['approval', 'start', deal, '--doc', String(doc), '--chain', 'nosuch'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('APPROVAL_CHAIN_UNKNOWN');
    const started = (await run('approval', 'start', deal, '--doc', String(doc), '--chain', 'contract', '--json')).json();
    const twice = await dossier(['approval', 'start', deal, '--doc', String(doc)], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('APPROVAL_ALREADY_OPEN');
    await deliverAll();
    const toLawyer = lastTo('lawyer@dossier.example', `[APR-${started.id}]`)!;
    // A forged rejection: a "pass" written by someone else's server (not our MTA's authserv-id) proves nothing.
    const fake = await reply(toLawyer, 'lawyer@dossier.example', 'отклонено: подделка', ['Authentication-Results: mx.attacker.example; dkim=pass header.d=dossier.example; dmarc=pass header.from=dossier.example', MTA_RECEIVED]);
    expect(fake.outcome).toBe('quarantined');
    expect(fake.reason).toContain('not counted: the mail from lawyer@dossier.example is not authenticated (no Authentication-Results from our MTA');
    const unclear = await reply(toLawyer, 'lawyer@dossier.example', 'посмотрю завтра');
    expect(unclear.outcome).toBe('refused');
    const r = await reply(toLawyer, 'lawyer@dossier.example', 'Отклонено: нет подписи на странице 3\nи не указан срок действия');
    expect(r.outcome).toBe('applied');
    expect(r.reason).toContain('rejected by lawyer@dossier.example at step 1 of 2: нет подписи на странице 3 и не указан срок действия');
    await deliverAll();
    const back = lastTo('manager@dossier.example', 'Отклонено: Договор')!;
    expect(back.mail.text).toContain('Причина: нет подписи на странице 3 и не указан срок действия');
    expect(smtp.received.filter((m) => m.envelopeTo.includes('director@dossier.example') && m.mail.subject?.includes(`[APR-${started.id}]`))).toHaveLength(0);
    const v = (await run('approval', deal, '--json')).json().approvals.find((a: { id: number }) => a.id === started.id);
    expect(v.status).toBe('rejected');
    expect(v.steps.map((s: { state: string; reason: string | null }) => [s.state, s.reason])).toEqual([
      ['rejected', 'нет подписи на странице 3 и не указан срок действия'],
      ['waiting', null],
    ]);
    const [ev] = await sql<{ new_value: { reason: string; approver: string } }>("SELECT new_value FROM events WHERE kind = 'approval_rejected'");
    expect(ev!.new_value).toMatchObject({ approver: 'lawyer@dossier.example', reason: 'нет подписи на странице 3 и не указан срок действия' });
  });

  it('writes to approvers in English when the notifications are in English', async () => {
    const en = { ...env, DOSSIER_NOTIFICATIONS__LANGUAGE: 'en' };
    const r = await dossier(['approval', 'start', deal, '--json'], en);
    expect(r.code).toBe(0);
    const id = r.json().id;
    await dossier(['worker', '--until-idle'], en);
    const mail = lastTo('lawyer@dossier.example', `[APR-${id}]`)!;
    expect(mail.mail.subject).toBe(`[${deal}] [APR-${id}] Approval: Договор — Договор поручения.pdf (step 1 of 2)`);
    expect(mail.mail.text).toContain('"rejected: reason" — the document goes back to staff with your reason.');
  });
});

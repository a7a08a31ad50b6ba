import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { createLogger } from '../../src/jobs/log.js';
import { startWorker } from '../../src/jobs/service.js';
import { fixturesDir } from '../../src/paths.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cliWorld } from '../helpers/cli-world.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// Deadlines in the worker (issue 17), with real PostgreSQL and a real SMTP server: the worker's
// `deadlines.run` job reminds a silent bank at most once per interval, never its auto-responder
// (whose auto-reply is no answer either), and sends staff one digest a day; the report shows the
// bank's time to decision against its promise. The package is made to have gone out 20 days ago by
// moving its `mail_sent` event back (the clocks are read from the audit trail).

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const { sql, run, deliverAll } = cliWorld(() => ({ db, env }));
let smtp: TestSmtp;
let deal: string;
const received = (subject: string) => smtp.received.filter((m) => (m.mail.subject ?? '').includes(subject));

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
  // The digest goes out from 00:00 in the office's zone, so that the test does not depend on the hour it runs at.
  env = testEnv(db.url, await tempDir(), { ...smtpEnv(smtp.port), DOSSIER_DEADLINES__DIGEST_HOUR: '0', DOSSIER_MAIL__RETRY__DELAY_SECONDS: '1', DOSSIER_MAIL__RETRY__BACKOFF: 'false', DOSSIER_WORKER__SHUTDOWN_TIMEOUT_SECONDS: '5' });
  deal = (await run('record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json')).json()[0].ref;
});
afterAll(async () => {
  await smtp?.stop();
  await db?.drop();
});

describe('deadlines in the worker', () => {
  it('reminds a silent bank once per interval and never its auto-responder; one digest a day; the report shows the promise kept or not', async () => {
    await run('pack', 'send', deal, '--recipient', 'bank-volga');
    await deliverAll();
    expect(received('Напоминание')).toHaveLength(0); // just sent: nothing is due
    expect(received('сроки ответов')).toHaveLength(0);
    await sql(`UPDATE events SET at = at - interval '20 days' WHERE kind = 'mail_sent'`);

    // The worker's pass finds the bank overdue: a reminder to the bank, the digest to staff.
    await deliverAll();
    const reminders = received('Напоминание');
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.envelopeTo).toEqual(['autoloans@volga-credit.example.ru']);
    expect(reminders[0]!.mail.subject).toMatch(new RegExp(`^\\[${deal} [a-z2-7]{6}\\] Напоминание: ожидаем решение по заявке ${deal}$`));
    const digests = received('Dossier: сроки ответов');
    expect(digests).toHaveLength(1);
    expect(digests[0]!.envelopeTo).toEqual(['manager@dossier.example']);
    expect(digests[0]!.mail.text).toContain(`${deal}  ПАО «Волга-Кредит Банк» (bank-volga): решение`);

    // The next passes, within the interval and the same day: nothing more.
    await deliverAll();
    expect(received('Напоминание')).toHaveLength(1);
    expect(received('Dossier: сроки ответов')).toHaveLength(1);

    // Three days on (the reminder moved back), the bank's mailbox has answered with an auto-reply:
    // no answer, and no reminder to a robot.
    await sql(`UPDATE events SET new_value = jsonb_set(new_value, '{at}', to_jsonb((now() - interval '3 days')::text)) WHERE kind = 'deadline_reminder'`);
    const [token] = await sql<{ reply_token: string }>("SELECT rp.reply_token FROM record_parties rp JOIN parties p ON p.id = rp.party_id WHERE p.key = 'bank-volga'");
    const auto = path.join(await tempDir(), 'auto.eml');
    await writeFile(auto, ['From: Volga Credit <autoloans@volga-credit.example.ru>', `To: intake+${deal}.${token!.reply_token}@dossier.example`, `Subject: Auto: [${deal} ${token!.reply_token}] Напоминание`, 'Auto-Submitted: auto-replied', `Message-ID: <auto-${Date.now()}@volga-credit.example.ru>`, 'Date: Mon, 07 Dec 2026 10:00:00 +0300', 'Content-Type: text/plain; charset=utf-8', '', 'Ваше письмо получено.', ''].join('\r\n'));
    expect((await run('mail', 'ingest', auto, '--json')).json()[0].outcome).toBe('ignored');
    await deliverAll();
    expect(received('Напоминание')).toHaveLength(1);
    expect((await run('due', '--json')).json().items).toMatchObject([{ party: 'bank-volga', step: 'decision', state: 'overdue' }]);

    // The long-running worker's timer runs the same job at its start: still nothing more to send.
    const app = await openApp({ env, cwd: await tempDir() });
    const lines: string[] = [];
    const w = await startWorker(app, createLogger((l) => void lines.push(l)));
    try {
      for (let i = 0; i < 300 && !(await sql("SELECT 1 FROM pgboss.job WHERE name = 'deadlines.run' AND state = 'completed'")).length; i++) await sleep(100);
    } finally {
      await w.stop();
      await app.close();
    }
    expect(await sql("SELECT 1 FROM pgboss.job WHERE name = 'deadlines.run' AND state = 'completed'")).not.toHaveLength(0);
    expect(received('Напоминание')).toHaveLength(1);

    // The decision comes: the report shows the bank's time against its promise of 5 working days.
    await run('field', 'set', deal, '--recipient', 'bank-volga', 'decision=approved');
    const report = (await run('report', '--json')).json();
    expect(report.promises).toEqual([{ party: 'bank-volga', partyName: 'ПАО «Волга-Кредит Банк»', type: 'deal', step: 'decision', promised: '5 working', answered: 1, onTime: 0, medianWorkingDays: expect.any(Number), waiting: 0, overdue: 0 }]);
    expect(report.promises[0].medianWorkingDays).toBeGreaterThanOrEqual(12);
    const text = (await run('report')).stdout;
    expect(text).toMatch(/^Обещанные сроки$/m);
    expect(text).toMatch(/^deal\s+bank-volga\s+ПАО «Волга-Кредит Банк»\s+decision\s+5 working\s+1\s+0\s+\d+\.0\s+0\s+0$/m);
  });
});

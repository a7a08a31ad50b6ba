import type { App } from '../app.js';
import { pollImap } from '../inbound/imap.js';
import { pollMaildir } from '../inbound/maildir.js';
import { processMessage } from '../inbound/process.js';
import { deliver, queueJobs, transportFor, type DeliveryOutcome } from '../outbound/outbox.js';
import { deliverSms } from '../outbound/sms.js';
import { sendPackages } from '../packages/send.js';
import { QUEUES, startBoss, withHeartbeat, type PackageJob } from './boss.js';

// `dossier worker --until-idle`: runs the queues until nothing is ready to run, then stops. Mail
// waiting for a retry later stays queued (and is reported); the next run picks it up.

export interface IdleReport { received: Record<string, number>; sent: number; failed: number; retrying: number; waiting: number; nextAttemptAt: Date | null; sms: number; mailboxErrors: string[] }

/** Reads every source once: journal rows a crash left unprocessed, the Maildir, each IMAP mailbox. */
export async function intakeOnce(app: App, log: (line: string) => void): Promise<{ received: Record<string, number>; errors: string[] }> {
  const received: Record<string, number> = {};
  const count = (o: string) => (received[o] = (received[o] ?? 0) + 1);
  const note = (where: string, r: { id: number; outcome: string; reason: string }) => {
    count(r.outcome);
    log(`mail #${r.id} (${where}): ${r.outcome} — ${r.reason}`);
  };
  for (const { id } of (await app.db.query<{ id: number }>('SELECT id FROM inbound_messages WHERE outcome IS NULL ORDER BY id')).rows) {
    const r = await processMessage(app, id);
    if (r) note('journal', r);
  }
  await pollMaildir(app, (r, file) => note(`maildir ${file}`, r));
  const errors: string[] = [];
  for (const mb of app.config.intake.mailboxes) {
    try {
      const rep = await pollImap(app, mb, (r) => note(`imap ${mb.name}`, r));
      if (rep.skipped) log(`mailbox ${mb.name}: skipped, ${rep.skipped}`);
    } catch (err) {
      errors.push(`${mb.name}: ${(err as Error).message}`);
      log(`mailbox ${mb.name}: ${(err as Error).message}`);
    }
  }
  return { received, errors };
}

export async function runUntilIdle(app: App, log: (line: string) => void = () => {}): Promise<IdleReport> {
  const intake = await intakeOnce(app, log);
  const boss = await startBoss(app);
  const transport = transportFor(app);
  const counts: Record<DeliveryOutcome, number> = { sent: 0, retry: 0, failed: 0, done: 0 };
  try {
    // Packages left to a worker (`pack send --background`): built and queued first, so they go out below.
    for (;;) {
      const jobs = await boss.fetch<PackageJob>(QUEUES.sendPackages, { batchSize: 1 });
      if (!jobs.length) break;
      for (const job of jobs) {
        try {
          const mails = await withHeartbeat(boss, QUEUES.sendPackages, job.id, () => sendPackages(app, job.data.actor, job.data.ref, { recipients: job.data.recipients, boss }));
          log(`${job.data.ref}: ${mails.length} package email(s) queued`);
          await boss.complete(QUEUES.sendPackages, job.id, { mails: mails.length });
        } catch (err) {
          log(`${job.data.ref}: packages not sent: ${(err as Error).message}`);
          await boss.fail(QUEUES.sendPackages, job.id, { error: (err as Error).message });
        }
      }
    }
    // Rows without a live job (the process that queued them died, or an outbox retry): queue them.
    // The queue's singleton key makes this harmless for rows that already have one.
    const stray = (await app.db.query<{ id: number }>(`SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY id`)).rows;
    await queueJobs(boss, stray.map((r) => r.id));
    for (;;) {
      const jobs = await boss.fetch<{ outboxId: number }>(QUEUES.sendMail, { batchSize: 10 });
      if (!jobs.length) break;
      for (const job of jobs) {
        let outcome: DeliveryOutcome;
        try {
          outcome = await withHeartbeat(boss, QUEUES.sendMail, job.id, () => deliver(app, transport, job.data.outboxId));
        } catch (err) {
          await boss.fail(QUEUES.sendMail, job.id, { error: (err as Error).message });
          throw err;
        }
        counts[outcome]++;
        log(`outbox #${job.data.outboxId}: ${outcome}`);
        if (outcome === 'retry') await boss.fail(QUEUES.sendMail, job.id, { outcome });
        else await boss.complete(QUEUES.sendMail, job.id, { outcome });
      }
    }
  } finally {
    transport.close();
    await boss.stop({ graceful: false, close: true, timeout: 5000 });
  }
  const w = (await app.db.query<{ n: number; next: Date | null }>(`SELECT count(*)::int AS n, min(next_attempt_at) AS next FROM outbox WHERE status IN ('queued', 'sending')`)).rows[0]!;
  const sms = await deliverSms(app);
  return { received: intake.received, sent: counts.sent, failed: counts.failed, retrying: counts.retry, waiting: w.n, nextAttemptAt: w.next, sms: sms.sent, mailboxErrors: intake.errors };
}

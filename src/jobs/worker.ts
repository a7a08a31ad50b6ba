import type { PgBoss } from 'pg-boss';
import type { App } from '../app.js';
import { QUEUES, queueDeadlines, queueMail, queueSmsJobs, type JobData, type QueueName } from '../db/queues.js';
import { isDossierError } from '../errors.js';
import { pollImap } from '../inbound/imap.js';
import { pollMaildir } from '../inbound/maildir.js';
import { processMessage } from '../inbound/process.js';
import { newPassCache } from '../inbound/facts.js';
import { transportFor } from '../outbound/outbox.js';
import { smsGateway } from '../outbound/sms.js';
import { startBoss, withHeartbeat } from './boss.js';
import { jobHandlers, type HandlerResult, type Handlers } from './handlers.js';
import { recoverOrphanedJobs, registerWorker, type WorkerSession } from './liveness.js';

// `dossier worker --until-idle`: reads every mailbox once, then runs the queues — with the same
// handlers as `dossier worker` (handlers.ts) — until nothing is ready to run, then stops. Mail
// waiting for a retry later stays queued (and is reported); the next run picks it up.

export interface IdleReport { received: Record<string, number>; sent: number; failed: number; retrying: number; waiting: number; nextAttemptAt: Date | null; sms: number; mailboxErrors: string[] }

/** Reads every source once: journal rows a crash left unprocessed, the Maildir, each IMAP mailbox. */
export async function intakeOnce(app: App, log: (line: string) => void): Promise<{ received: Record<string, number>; errors: string[] }> {
  const received: Record<string, number> = {};
  const note = (where: string, r: { id: number; outcome: string; reason: string }) => {
    received[r.outcome] = (received[r.outcome] ?? 0) + 1;
    log(`mail #${r.id} (${where}): ${r.outcome} — ${r.reason}`);
  };
  const cache = newPassCache(app);
  const errors: string[] = [];
  // A full or read-only disk, or the database gone: one line, the mail left for the next pass, and
  // the rest of the run (sending what is queued) goes on.
  const later = (where: string, err: unknown) => {
    if (!isDossierError(err, 'STORAGE_UNAVAILABLE') && !isDossierError(err, 'DB_UNAVAILABLE')) throw err;
    errors.push(`${where}: ${err.code}: ${err.message}`);
    log(`${where}: ${err.code} — ${err.message} Left for the next pass.`);
  };
  try {
    for (const { id } of (await app.db.query<{ id: number }>('SELECT id FROM inbound_messages WHERE outcome IS NULL ORDER BY id')).rows) {
      const r = await processMessage(app, id, { cache });
      if (r) note('journal', r);
    }
  } catch (err) {
    later('journal', err);
  }
  await pollMaildir(app, (r, file) => note(`maildir ${file}`, r)).catch((err) => later('maildir', err));
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

/** Runs a queue's ready jobs through its handler until none is left; counts the outputs. */
async function drain<Q extends QueueName>(boss: PgBoss, session: WorkerSession, handlers: Handlers, queue: Q, batchSize: number, log: (line: string) => void, count: (output: Record<string, unknown>) => void): Promise<void> {
  for (;;) {
    const jobs = await boss.fetch<JobData[Q]>(queue, { batchSize });
    if (!jobs.length) return;
    await session.claim(queue, jobs.map((j) => j.id));
    for (const job of jobs) {
      const r = await withHeartbeat(boss, queue, job.id, () => (handlers[queue] as (d: JobData[Q]) => Promise<HandlerResult>)(job.data));
      for (const l of r.logs) log(l.message);
      count(r.output);
      if (r.status === 'failed') await boss.fail(queue, job.id, r.output);
      else await boss.complete(queue, job.id, r.output);
      await session.release([job.id]);
    }
  }
}

export async function runUntilIdle(app: App, log: (line: string) => void = () => {}): Promise<IdleReport> {
  const intake = await intakeOnce(app, log);
  const boss = await startBoss(app);
  const session = await registerWorker(app);
  const transport = transportFor(app);
  const handlers = jobHandlers(app, { transport, sms: smsGateway(app) });
  const mail = { sent: 0, retry: 0, failed: 0, done: 0 } as Record<string, number>;
  let sms = 0;
  try {
    // Jobs a killed worker left active would block their rows until their heartbeat ran out: taken back now.
    const orphans = await recoverOrphanedJobs(app, boss);
    if (orphans.length) log(`${orphans.length} job(s) of a worker that is gone taken back: ${orphans.map((o) => `${o.queue} ${o.id}`).join(', ')}`);
    // Reminders and the daily digest (issue 17), once a pass, before the mail goes out below.
    await queueDeadlines(app.db);
    await drain(boss, session, handlers, QUEUES.runDeadlines, 1, log, () => {});
    // Packages left to a worker (`pack send --background`): built and queued first, so they go out below.
    await drain(boss, session, handlers, QUEUES.sendPackages, 1, log, () => {});
    // Rows without a live job (the process that queued them died, or an outbox retry): queue them.
    // The queue's singleton key makes this harmless for rows that already have one.
    const stray = (await app.db.query<{ id: number }>(`SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY id`)).rows;
    await queueMail(app.db, stray.map((r) => r.id));
    await drain(boss, session, handlers, QUEUES.sendMail, 10, log, (o) => void (mail[String(o.outcome)] = (mail[String(o.outcome)] ?? 0) + 1));
    const texts = (await app.db.query<{ id: number }>(`SELECT id FROM sms_outbox WHERE status = 'queued' ORDER BY id`)).rows;
    await queueSmsJobs(app.db, texts.map((r) => r.id));
    await drain(boss, session, handlers, QUEUES.sendSms, 10, log, (o) => void (o.outcome === 'sent' && sms++));
  } finally {
    await session.end();
    transport.close();
    await boss.stop({ graceful: false, close: true, timeout: 5000 });
  }
  const w = (await app.db.query<{ n: number; next: Date | null }>(`SELECT count(*)::int AS n, min(next_attempt_at) AS next FROM outbox WHERE status IN ('queued', 'sending')`)).rows[0]!;
  return { received: intake.received, sent: mail.sent ?? 0, failed: mail.failed ?? 0, retrying: mail.retry ?? 0, waiting: w.n, nextAttemptAt: w.next, sms, mailboxErrors: intake.errors };
}

import type { PgBoss } from 'pg-boss';
import type { App } from '../app.js';
import type { IntakeResult } from '../inbound/process.js';
import { processMessage } from '../inbound/process.js';
import { deliver, queueJobs as queueOutbox, transportFor } from '../outbound/outbox.js';
import { deliverSmsRow, smsGateway } from '../outbound/sms.js';
import { sendPackages } from '../packages/send.js';
import { QUEUES, startBoss, type PackageJob } from './boss.js';
import type { Logger } from './log.js';
import { watchImap, watchMaildir, type WatchContext } from './mailbox-watch.js';

// `dossier worker`: the main job. One process runs every pg-boss queue (send mail, send text
// messages, process a journaled message) and reads every mailbox (the Maildir, each IMAP mailbox)
// until it is stopped. Several workers may run against one PostgreSQL: pg-boss hands each job to
// one of them, the mailbox watchers take turns through advisory locks, and the journal makes every
// message's effect happen once.

export interface WorkerHandle {
  /** Stops reading mail, lets jobs in flight finish (up to shutdownTimeoutSeconds), hands the rest back. */
  stop(): Promise<void>;
  /** Settles when the worker has stopped. */
  stopped: Promise<void>;
}

type JobResult = { id: string; status: 'completed' | 'failed'; output?: object };

export async function startWorker(app: App, log: Logger): Promise<WorkerHandle> {
  const w = app.config.worker;
  const boss = await startBoss(app);
  // pg-boss reports its own trouble (the database going away, maintenance failing) as events; the
  // worker keeps running and says so, once per distinct message in a row.
  let lastQueueError = '';
  boss.on('error', (err: Error) => {
    if (err.message === lastQueueError) return;
    lastQueueError = err.message;
    log.warn({ event: 'queue_error', error: err.message }, `queues: ${err.message}`);
  });
  const transport = transportFor(app);
  const sms = smsGateway(app);
  const abort = new AbortController();
  const poll = { batchSize: w.batchSize, pollingIntervalSeconds: w.pollingIntervalSeconds, perJobResults: true } as const;

  await boss.work<{ outboxId: number }>(QUEUES.sendMail, { ...poll, localConcurrency: w.sendConcurrency }, async (jobs) => {
    const out: JobResult[] = [];
    for (const job of jobs) {
      const id = job.data.outboxId;
      try {
        const outcome = await deliver(app, transport, id);
        const row = (await app.db.query<{ to_addresses: string[]; subject: string; last_response: string | null; attempts: number }>('SELECT to_addresses, subject, last_response, attempts FROM outbox WHERE id = $1', [id])).rows[0];
        const fields = { event: 'mail', outbox: id, outcome, to: row?.to_addresses, subject: row?.subject, attempts: row?.attempts, response: row?.last_response };
        if (outcome === 'sent') log.info(fields, `outbox #${id} sent to ${row?.to_addresses.join(', ')}`);
        else if (outcome === 'failed') log.error(fields, `outbox #${id} failed: ${row?.last_response}`);
        else if (outcome === 'retry') log.warn(fields, `outbox #${id} will be retried: ${row?.last_response}`);
        // A temporary failure fails the job, so that pg-boss retries it after the queue's delay.
        out.push({ id: job.id, status: outcome === 'retry' ? 'failed' : 'completed', output: { outcome } });
      } catch (err) {
        log.error({ event: 'mail', outbox: id, outcome: 'error', error: (err as Error).message }, `outbox #${id}: ${(err as Error).message}`);
        out.push({ id: job.id, status: 'failed', output: { error: (err as Error).message } });
      }
    }
    return out;
  });

  await boss.work<{ smsId: number }>(QUEUES.sendSms, poll, async (jobs) => {
    const out: JobResult[] = [];
    for (const job of jobs) {
      const id = job.data.smsId;
      if (!sms) {
        out.push({ id: job.id, status: 'completed', output: { outcome: 'no gateway' } });
        continue;
      }
      try {
        const outcome = await deliverSmsRow(app, sms, id);
        if (outcome !== 'done') log[outcome === 'sent' ? 'info' : 'warn']({ event: 'sms', sms: id, outcome, gateway: sms.name }, `text message #${id}: ${outcome}`);
        out.push({ id: job.id, status: outcome === 'retry' ? 'failed' : 'completed', output: { outcome } });
      } catch (err) {
        out.push({ id: job.id, status: 'failed', output: { error: (err as Error).message } });
      }
    }
    return out;
  });

  const onResult = (r: IntakeResult, where: string) => {
    const fields = { event: 'intake', journal: r.id, source: where, outcome: r.outcome, reason: r.reason, ref: r.ref, outbox: r.outbox };
    if (r.outcome === 'failed') log.error(fields, `mail #${r.id} (${where}): ${r.outcome} — ${r.reason}`);
    else log.info(fields, `mail #${r.id} (${where}): ${r.outcome} — ${r.reason}`);
    // What the message caused goes out at once rather than at the next sweep.
    void queueOutbox(boss, r.outbox).then(() => (r.outcome === 'applied' ? queueDueSms(app, boss) : undefined)).catch((err: Error) => log.warn({ event: 'queue_error', error: err.message }, err.message));
  };

  await boss.work<{ journalId: number }>(QUEUES.processMessage, poll, async (jobs) => {
    const out: JobResult[] = [];
    for (const job of jobs) {
      try {
        const r = await processMessage(app, job.data.journalId);
        if (r) onResult(r, 'journal');
        out.push({ id: job.id, status: 'completed', output: { outcome: r?.outcome ?? 'taken' } });
      } catch (err) {
        out.push({ id: job.id, status: 'failed', output: { error: (err as Error).message } });
      }
    }
    return out;
  });

  // `pack send --background`: build and queue a record's packages here, in the name of who asked.
  await boss.work<PackageJob>(QUEUES.sendPackages, { ...poll, batchSize: 1 }, async (jobs) => {
    const out: JobResult[] = [];
    for (const job of jobs) {
      const { ref, recipients, actor } = job.data;
      try {
        const mails = await sendPackages(app, actor, ref, { recipients, boss });
        for (const m of mails) log.info({ event: 'package', ref, recipient: m.recipient, outbox: m.outbox, attachment: m.attachment, bytes: m.bytes, by: actor.id }, `${ref}: package for ${m.recipient} queued (outbox #${m.outbox})`);
        out.push({ id: job.id, status: 'completed', output: { mails: mails.length } });
      } catch (err) {
        const e = err as Error & { code?: string; hint?: string };
        log.error({ event: 'package', ref, recipients, outcome: 'failed', code: e.code, error: e.message, hint: e.hint, by: actor.id }, `${ref}: packages not sent: ${e.message}`);
        out.push({ id: job.id, status: 'failed', output: { code: e.code, error: e.message } });
      }
    }
    return out;
  });

  const ctx: WatchContext = { app, log, signal: abort.signal, onResult };
  const watchers = [watchMaildir(ctx), ...app.config.intake.mailboxes.map((mb) => watchImap(ctx, mb))];

  // The sweep queues what lost its job: outbox rows queued by a process that died before queueing
  // them (or put back by `outbox retry`), text messages, journal rows a crash left unprocessed.
  const sweep = async () => {
    const mail = (await app.db.query<{ id: number }>(`SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY id LIMIT 1000`)).rows;
    await queueOutbox(boss, mail.map((r) => r.id));
    await queueDueSms(app, boss);
    // Older than a minute: a watcher journals a message and processes it at once; only one that
    // nobody finished is taken here.
    const stale = (await app.db.query<{ id: number }>(`SELECT id FROM inbound_messages WHERE outcome IS NULL AND received_at < now() - interval '1 minute' ORDER BY id LIMIT 1000`)).rows;
    for (const { id } of stale) await boss.send(QUEUES.processMessage, { journalId: id }, { singletonKey: `journal:${id}` });
  };
  let sweeping: Promise<void> = Promise.resolve();
  const runSweep = () => {
    sweeping = sweep().catch((err: Error) => log.warn({ event: 'sweep_error', error: err.message }, `sweep: ${err.message}`));
  };
  runSweep();
  const sweepTimer = setInterval(runSweep, w.sweepSeconds * 1000);
  sweepTimer.unref();

  log.info({ event: 'worker_started', mailboxes: ['maildir', ...app.config.intake.mailboxes.map((m) => m.name)], transport: transport.name, sms: sms?.name ?? 'none' }, 'worker started');

  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info({ event: 'worker_stopping' }, 'stopping: finishing what is in flight');
      clearInterval(sweepTimer);
      abort.abort();
      await Promise.allSettled(watchers); // each finishes its current message, logs out, unlocks
      await sweeping;
      // Jobs still running after the timeout are failed back to their queues (another worker, or
      // this one after a restart, picks them up).
      await boss.stop({ graceful: true, close: true, timeout: w.shutdownTimeoutSeconds * 1000 });
      transport.close();
      log.info({ event: 'worker_stopped' }, 'worker stopped');
      resolveStopped();
    })());
  return { stop, stopped };
}

async function queueDueSms(app: App, boss: PgBoss): Promise<void> {
  const rows = (await app.db.query<{ id: number }>(`SELECT id FROM sms_outbox WHERE status = 'queued' ORDER BY id LIMIT 1000`)).rows;
  for (const { id } of rows) await boss.send(QUEUES.sendSms, { smsId: id }, { singletonKey: `sms:${id}` });
}

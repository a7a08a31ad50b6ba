import type { App } from '../app.js';
import { QUEUES, queueDeadlines, queueJournal, queueMail, queueSmsJobs, type JobData, type QueueName } from '../db/queues.js';
import type { IntakeResult } from '../inbound/process.js';
import { transportFor } from '../outbound/outbox.js';
import { smsGateway } from '../outbound/sms.js';
import { recoverOrphanedJobs, registerWorker } from './liveness.js';
import { startBoss } from './boss.js';
import { jobHandlers, type HandlerResult } from './handlers.js';
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
  const session = await registerWorker(app); // issue 13: alive while this process is (src/jobs/liveness.ts)
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

  const handlers = jobHandlers(app, { transport, sms });
  const say = (r: HandlerResult) => {
    for (const l of r.logs) log[l.level](l.fields, l.message);
  };
  const onResult = (r: IntakeResult, where: string) => {
    const fields = { event: 'intake', journal: r.id, source: where, outcome: r.outcome, reason: r.reason, ref: r.ref, outbox: r.outbox };
    if (r.outcome === 'failed') log.error(fields, `mail #${r.id} (${where}): ${r.outcome} — ${r.reason}`);
    else log.info(fields, `mail #${r.id} (${where}): ${r.outcome} — ${r.reason}`);
    // What the message caused goes out at once rather than at the next sweep.
    void queueMail(app.db, r.outbox)
      .then(() => (r.outcome === 'applied' ? queueDueSms(app) : undefined))
      .catch((err: Error) => log.warn({ event: 'queue_error', error: err.message }, err.message));
  };
  // One pg-boss work loop per queue, each job through its handler (the same as --until-idle's).
  const work = async <Q extends QueueName>(queue: Q, options: Record<string, unknown>) =>
    boss.work<JobData[Q]>(queue, { ...poll, ...options }, async (jobs) => {
      const out: JobResult[] = [];
      await session.claim(queue, jobs.map((j) => j.id));
      for (const job of jobs) {
        const r = await (handlers[queue] as (d: JobData[Q]) => Promise<HandlerResult>)(job.data);
        say(r);
        if (r.intake) onResult(r.intake, 'journal');
        out.push({ id: job.id, status: r.status, output: r.output });
      }
      await session.release(jobs.map((j) => j.id));
      return out;
    });
  await work(QUEUES.sendMail, { localConcurrency: w.sendConcurrency });
  await work(QUEUES.sendSms, {});
  await work(QUEUES.processMessage, {});
  await work(QUEUES.sendPackages, { batchSize: 1 });
  await work(QUEUES.runDeadlines, { batchSize: 1 });

  const ctx: WatchContext = { app, log, signal: abort.signal, onResult };
  const watchers = [watchMaildir(ctx), ...app.config.intake.mailboxes.map((mb) => watchImap(ctx, mb))];

  // The sweep queues what lost its job: outbox rows queued by a process that died before queueing
  // them (or put back by `outbox retry`), text messages, journal rows a crash left unprocessed.
  const sweep = async () => {
    // A killed worker's active jobs (issue 13): taken back at once, not when their heartbeat runs out.
    const orphans = await recoverOrphanedJobs(app, boss);
    if (orphans.length) log.warn({ event: 'jobs_recovered', jobs: orphans }, `${orphans.length} job(s) of a worker that is gone taken back`);
    const mail = (await app.db.query<{ id: number }>(`SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY id LIMIT 1000`)).rows;
    await queueMail(app.db, mail.map((r) => r.id));
    await queueDueSms(app);
    // Older than a minute: a watcher journals a message and processes it at once; only one that
    // nobody finished is taken here.
    const stale = (await app.db.query<{ id: number }>(`SELECT id FROM inbound_messages WHERE outcome IS NULL AND received_at < now() - interval '1 minute' ORDER BY id LIMIT 1000`)).rows;
    await queueJournal(app.db, stale.map((r) => r.id));
  };
  let sweeping: Promise<void> = Promise.resolve();
  const runSweep = () => {
    sweeping = sweep().catch((err: Error) => log.warn({ event: 'sweep_error', error: err.message }, `sweep: ${err.message}`));
  };
  runSweep();
  const sweepTimer = setInterval(runSweep, w.sweepSeconds * 1000);
  sweepTimer.unref();
  // Deadlines (issue 17): every checkMinutes one `deadlines.run` job (one key: however many workers
  // queue it, one runs at a time), reminders and the daily digest through its handler.
  const checkDeadlines = () => void queueDeadlines(app.db).catch((err: Error) => log.warn({ event: 'queue_error', error: err.message }, `deadlines: ${err.message}`));
  checkDeadlines();
  const deadlineTimer = setInterval(checkDeadlines, app.config.deadlines.checkMinutes * 60_000);
  deadlineTimer.unref();

  log.info({ event: 'worker_started', mailboxes: ['maildir', ...app.config.intake.mailboxes.map((m) => m.name)], transport: transport.name, sms: sms?.name ?? 'none' }, 'worker started');

  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info({ event: 'worker_stopping' }, 'stopping: finishing what is in flight');
      clearInterval(sweepTimer);
      clearInterval(deadlineTimer);
      abort.abort();
      await Promise.allSettled(watchers); // each finishes its current message, logs out, unlocks
      await sweeping;
      // Jobs still running after the timeout are failed back to their queues (another worker, or
      // this one after a restart, picks them up).
      await boss.stop({ graceful: true, close: true, timeout: w.shutdownTimeoutSeconds * 1000 });
      await session.end();
      transport.close();
      log.info({ event: 'worker_stopped' }, 'worker stopped');
      resolveStopped();
    })());
  return { stop, stopped };
}

async function queueDueSms(app: App): Promise<void> {
  const rows = (await app.db.query<{ id: number }>(`SELECT id FROM sms_outbox WHERE status = 'queued' ORDER BY id LIMIT 1000`)).rows;
  await queueSmsJobs(app.db, rows.map((r) => r.id));
}

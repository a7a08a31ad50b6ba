import { PgBoss } from 'pg-boss';
import type { App } from '../app.js';

// pg-boss on the same database (its own schema "pgboss"), started only by the commands that queue or
// run jobs. Queue names in one place.

export const QUEUES = {
  /** Deliver one outbox row (data: { outboxId }). */
  sendMail: 'mail.send',
  /** Send one text message (data: { smsId }). */
  sendSms: 'sms.send',
  /** Process one journaled message that no mailbox pass finished (data: { journalId }). */
  processMessage: 'intake.process',
  /** Build and queue a record's packages (data: PackageJob), for `pack send --background`. */
  sendPackages: 'package.send',
} as const;

const HEARTBEAT_SECONDS = 30;

/**
 * Runs one fetched job's work while telling pg-boss it is alive (`worker --until-idle` fetches jobs
 * itself; `boss.work` refreshes its own).
 */
export async function withHeartbeat<T>(boss: PgBoss, queue: string, jobId: string, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => void boss.touch(queue, jobId).catch(() => {}), (HEARTBEAT_SECONDS / 3) * 1000);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

async function ensureQueue(boss: PgBoss, name: string, options: Record<string, unknown>): Promise<void> {
  await boss.createQueue(name, options).catch(async (err: Error) => {
    if (!/exists/i.test(err.message)) throw err;
  });
  const { policy: _fixedAtCreation, ...settings } = options; // a queue's policy cannot change
  await boss.updateQueue(name, settings);
}

export async function startBoss(app: App): Promise<PgBoss> {
  const conn = app.embedded ? app.embedded.connection : { connectionString: app.config.database.url! };
  const boss = new PgBoss({ ...(conn as object), application_name: `dossier:${process.pid}`, max: 4, schema: 'pgboss', schedule: false, supervise: true } as ConstructorParameters<typeof PgBoss>[0]);
  boss.on('error', () => {}); // surfaced where jobs fail; a transient maintenance error must not crash the CLI
  await boss.start();
  const r = app.config.mail.retry;
  // stately: one queued and one active job per row (singletonKey), so a row is never handled by two
  // jobs at once however often it is queued.
  const retry = { retryLimit: r.limit, retryDelay: r.delaySeconds, retryBackoff: r.backoff };
  // Heartbeats: a worker that dies while sending (SIGKILL, a lost machine) stops refreshing its jobs,
  // and pg-boss's supervisor hands them back within about a minute instead of when they expire —
  // the queue allows one active job per row, so until then that row's email would wait.
  await ensureQueue(boss, QUEUES.sendMail, { policy: 'stately', ...retry, expireInSeconds: 600, heartbeatSeconds: HEARTBEAT_SECONDS });
  await ensureQueue(boss, QUEUES.sendSms, { policy: 'stately', ...retry, expireInSeconds: 120, heartbeatSeconds: HEARTBEAT_SECONDS });
  // A package that cannot be built (a value missing) fails the same way the next time: one retry
  // covers a passing fault (the database restarting), no more.
  await ensureQueue(boss, QUEUES.sendPackages, { policy: 'stately', retryLimit: 1, retryDelay: 30, expireInSeconds: 3600, heartbeatSeconds: HEARTBEAT_SECONDS });
  await ensureQueue(boss, QUEUES.processMessage, { policy: 'stately', retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 600 });
  return boss;
}

/** `pack send --background`: who asked (for the audit trail), which record, which recipients. */
export interface PackageJob { ref: string; recipients: string[] | 'all'; actor: { id: string; source: 'cli' | 'message' | 'import' | 'worker' } }

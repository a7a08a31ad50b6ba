import { PgBoss } from 'pg-boss';
import type { App } from '../app.js';
import type { Config } from '../config/schema.js';
import type { Queryable } from './pool.js';

// The job queues, below the domain: typed send functions that insert pg-boss jobs with one INSERT
// (in the caller's transaction when given one), so that a CLI command, an intake transaction or the
// records/outbound/packages modules queue work without starting a pg-boss instance and without
// importing the worker (src/jobs). The worker (src/jobs/boss.ts) creates the queues with their
// policies and runs them.
//
// The INSERT mirrors pg-boss 12's own (plans.insertJobs: the queue's retry, expiry, retention and
// policy copied onto the job, ON CONFLICT DO NOTHING for the stately queues' singleton keys); the
// version is pinned in package.json, and the worker tests (test/integration/worker.test.ts: `pack send
// --background`, mail queued by intake) run jobs inserted here through a real pg-boss worker. Until a worker has created the queues (a fresh database) nothing is
// inserted: the worker's sweep queues outbox rows, text messages and journal rows that have no job.

export const QUEUES = {
  /** Deliver one outbox row. */
  sendMail: 'mail.send',
  /** Send one text message. */
  sendSms: 'sms.send',
  /** Process one journaled message that no mailbox pass finished. */
  processMessage: 'intake.process',
  /** Build and queue a record's packages, for `pack send --background`. */
  sendPackages: 'package.send',
  /** Reminders to silent counterparties and the daily digest (issue 17), queued by the worker's timer. */
  runDeadlines: 'deadlines.run',
} as const;

export const BOSS_SCHEMA = 'pgboss';

/** `pack send --background`: who asked (for the audit trail), which record, which recipients. */
export interface PackageJob { ref: string; recipients: string[] | 'all'; actor: { id: string; source: 'cli' | 'message' | 'import' | 'worker' } }

export interface JobData {
  'mail.send': { outboxId: number };
  'sms.send': { smsId: number };
  'intake.process': { journalId: number };
  'package.send': PackageJob;
  'deadlines.run': Record<string, never>;
}
export type QueueName = keyof JobData;

/** One job per row at a time: the stately queues are keyed by the row. */
export const singletonKey: { [Q in QueueName]: (d: JobData[Q]) => string } = {
  'mail.send': (d) => `outbox:${d.outboxId}`,
  'sms.send': (d) => `sms:${d.smsId}`,
  'intake.process': (d) => `journal:${d.journalId}`,
  'package.send': (d) => `${d.ref}:${d.recipients === 'all' ? '*' : [...d.recipients].sort().join(',')}`,
  'deadlines.run': () => 'deadlines',
};

const tables = new Map<string, string>();

/** The queue's job table, or null while no worker has created the queue. */
async function tableOf(q: Queryable, queue: QueueName): Promise<string | null> {
  const known = tables.get(queue);
  if (known) return known;
  const exists = (await q.query<{ ok: boolean }>(`SELECT to_regclass('${BOSS_SCHEMA}.queue') IS NOT NULL AS ok`)).rows[0]!.ok;
  if (!exists) return null;
  const t = (await q.query<{ table_name: string }>(`SELECT table_name FROM ${BOSS_SCHEMA}.queue WHERE name = $1`, [queue])).rows[0]?.table_name;
  if (!t || !/^[a-z0-9_]+$/i.test(t)) return null;
  tables.set(queue, t);
  return t;
}

/** Inserts one job per item (one statement); returns the new job ids (none for a key already waiting). */
export async function sendJobs<Q extends QueueName>(q: Queryable, queue: Q, items: JobData[Q][]): Promise<string[]> {
  if (!items.length) return [];
  const table = await tableOf(q, queue);
  if (!table) return [];
  const rows = items.map((d) => ({ data: d, key: singletonKey[queue](d) }));
  const s = BOSS_SCHEMA;
  const r = await q.query<{ id: string }>(
    `INSERT INTO ${s}.${table} (id, name, data, singleton_key, start_after, created_on, expire_seconds, deletion_seconds, keep_until,
       retry_limit, retry_delay, retry_backoff, retry_delay_max, policy, dead_letter, heartbeat_seconds)
     SELECT gen_random_uuid(), q.name, x.data, x.key, ${s}.job_now(), ${s}.job_now(), q.expire_seconds, q.deletion_seconds,
       ${s}.job_now() + q.retention_seconds * interval '1s', q.retry_limit, q.retry_delay, q.retry_backoff, q.retry_delay_max, q.policy, q.dead_letter, q.heartbeat_seconds
     FROM json_to_recordset($2::json) AS x (data jsonb, key text) JOIN ${s}.queue q ON q.name = $1
     ON CONFLICT DO NOTHING RETURNING id`,
    [queue, JSON.stringify(rows)],
  );
  return r.rows.map((x) => x.id);
}

export const queueMail = (q: Queryable, outboxIds: number[]) => sendJobs(q, QUEUES.sendMail, outboxIds.map((outboxId) => ({ outboxId })));
export const queueSmsJobs = (q: Queryable, smsIds: number[]) => sendJobs(q, QUEUES.sendSms, smsIds.map((smsId) => ({ smsId })));
export const queueJournal = (q: Queryable, journalIds: number[]) => sendJobs(q, QUEUES.processMessage, journalIds.map((journalId) => ({ journalId })));
export const queueDeadlines = (q: Queryable) => sendJobs(q, QUEUES.runDeadlines, [{}]);
export const queuePackageJob = async (q: Queryable, job: PackageJob): Promise<string | null> => (await sendJobs(q, QUEUES.sendPackages, [job]))[0] ?? null;

/** Whether the queues exist (a worker created them at least once). */
export async function queuesReady(q: Queryable): Promise<boolean> {
  return (await tableOf(q, QUEUES.sendPackages)) !== null;
}

const HEARTBEAT_SECONDS = 30;
export { HEARTBEAT_SECONDS };

/** Each queue's policy and retries (a queue's policy is fixed when it is created). */
export function queueOptions(config: Config): Record<QueueName, Record<string, unknown>> {
  const r = config.mail.retry;
  const retry = { retryLimit: r.limit, retryDelay: r.delaySeconds, retryBackoff: r.backoff };
  // stately: one queued and one active job per row (singletonKey), so a row is never handled by two
  // jobs at once however often it is queued. Heartbeats: a worker that dies while sending stops
  // refreshing its jobs, and pg-boss's supervisor hands them back within about a minute.
  return {
    'mail.send': { policy: 'stately', ...retry, expireInSeconds: 600, heartbeatSeconds: HEARTBEAT_SECONDS },
    'sms.send': { policy: 'stately', ...retry, expireInSeconds: 120, heartbeatSeconds: HEARTBEAT_SECONDS },
    // A package that cannot be built fails the same way the next time: one retry covers a passing fault.
    'package.send': { policy: 'stately', retryLimit: 1, retryDelay: 30, expireInSeconds: 3600, heartbeatSeconds: HEARTBEAT_SECONDS },
    'intake.process': { policy: 'stately', retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 600 },
    // One check at a time (stately, one key); the next timer tick is the retry.
    'deadlines.run': { policy: 'stately', retryLimit: 0, expireInSeconds: 900 },
  };
}

/** Creates (or updates) the queues on a started pg-boss. */
export async function createQueues(boss: PgBoss, config: Config): Promise<void> {
  for (const [name, options] of Object.entries(queueOptions(config))) {
    await boss.createQueue(name, options).catch(async (err: Error) => {
      if (!/exists/i.test(err.message)) throw err;
    });
    const { policy: _fixedAtCreation, ...settings } = options;
    await boss.updateQueue(name, settings);
  }
}

/** A pg-boss on the app's database (its own schema), not yet started. */
export function newBoss(app: App, opts: { supervise: boolean }): PgBoss {
  const conn = app.embedded ? app.embedded.connection : { connectionString: app.config.database.url! };
  const boss = new PgBoss({ ...(conn as object), application_name: `dossier:${process.pid}`, max: 4, schema: BOSS_SCHEMA, schedule: false, supervise: opts.supervise } as ConstructorParameters<typeof PgBoss>[0]);
  boss.on('error', () => {}); // surfaced where jobs fail; a transient maintenance error must not crash the CLI
  return boss;
}

/**
 * Makes sure the queues exist, for a command whose job is the only record of its work (`pack send
 * --background`): on a database no worker has run on yet, pg-boss is started once to create its
 * schema and the queues, then stopped. Anywhere else an INSERT will do.
 */
export async function ensureQueues(app: App): Promise<void> {
  if (await queuesReady(app.db)) return;
  const boss = newBoss(app, { supervise: false });
  await boss.start();
  try {
    await createQueues(boss, app.config);
  } finally {
    await boss.stop({ graceful: false, close: true, timeout: 5000 });
  }
  tables.clear();
}

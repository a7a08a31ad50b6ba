import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PoolClient } from 'pg';
import type { PgBoss } from 'pg-boss';
import type { App } from '../app.js';
import { sendJobs, type JobData, type QueueName } from '../db/queues.js';

// Which worker is alive, and the jobs a dead one left "active" (issue 13). pg-boss hands a job back
// only when its heartbeat runs out (a minute or so); until then the job's key blocks its row. Here
// each worker holds a session advisory lock (class LOCK_CLASS, object its worker_sessions id) on a
// connection of its own for as long as it lives — a SIGKILLed process's connection closes and
// PostgreSQL drops the lock at once — and notes the jobs it runs in job_claims. A claimed, active
// job whose worker holds no lock is an orphan: cancelled and queued again with the same data, so
// `worker --until-idle` (and a starting worker) runs it now.

const LOCK_CLASS = 7305;

export interface WorkerSession {
  readonly id: number;
  claim(queue: string, jobIds: string[]): Promise<void>;
  release(jobIds: string[]): Promise<void>;
  end(): Promise<void>;
}

/**
 * Registers this process as a live worker until `end()` (or its death). If the lock's connection
 * breaks while the process lives (PostgreSQL restarted), it registers again and moves its claims to
 * the new session, so its own running jobs do not look orphaned for longer than the outage.
 */
export async function registerWorker(app: App): Promise<WorkerSession> {
  let client: PoolClient | null = null;
  let id = 0;
  let ended = false;
  let reconnecting: Promise<void> | null = null;
  const connect = async () => {
    const c = await app.db.connect();
    c.on('error', () => lost(c));
    try {
      const row = (await c.query<{ id: number }>('INSERT INTO worker_sessions (pid, host) VALUES ($1, $2) RETURNING id', [process.pid, os.hostname()])).rows[0]!;
      await c.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, row.id]);
      client = c;
      return row.id;
    } catch (err) {
      c.release(true);
      throw err;
    }
  };
  const lost = (c: PoolClient) => {
    if (client !== c || ended) return;
    client = null;
    c.release(true);
    const old = id;
    reconnecting ??= (async () => {
      while (!ended) {
        try {
          id = await connect();
          await app.db.query('UPDATE job_claims SET worker_id = $1 WHERE worker_id = $2', [id, old]);
          break;
        } catch {
          await sleep(1000);
        }
      }
      reconnecting = null;
    })();
  };
  id = await connect();
  return {
    get id() {
      return id;
    },
    async claim(queue, jobIds) {
      if (!jobIds.length) return;
      await app.db.query('INSERT INTO job_claims (job_id, queue, worker_id) SELECT unnest($1::uuid[]), $2, $3 ON CONFLICT (job_id) DO UPDATE SET worker_id = EXCLUDED.worker_id, claimed_at = now()', [jobIds, queue, id]);
    },
    async release(jobIds) {
      if (jobIds.length) await app.db.query('DELETE FROM job_claims WHERE job_id = ANY($1::uuid[])', [jobIds]);
    },
    async end() {
      if (ended) return;
      ended = true;
      const c = client;
      client = null;
      if (!c) return;
      await c.query('DELETE FROM worker_sessions WHERE id = $1', [id]).catch(() => {});
      await c.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, id]).catch(() => {});
      c.release();
    },
  };
}

/**
 * Cancels the active jobs of workers that are gone and queues each again with its data; returns how
 * many. Claims and sessions of dead workers are cleared.
 */
export async function recoverOrphanedJobs(app: App, boss: PgBoss): Promise<{ queue: string; id: string }[]> {
  const dead = `NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = ${LOCK_CLASS} AND l.objid = c.worker_id AND l.objsubid = 2 AND l.granted)`;
  const orphans = (
    await app.db.query<{ id: string; queue: string; data: unknown }>(
      `SELECT j.id::text AS id, j.name AS queue, j.data FROM job_claims c JOIN pgboss.job j ON j.id = c.job_id AND j.name = c.queue
       WHERE j.state = 'active' AND ${dead}`,
    )
  ).rows;
  for (const o of orphans) {
    await boss.cancel(o.queue, o.id);
    await sendJobs(app.db, o.queue as QueueName, [o.data as JobData[QueueName]]);
  }
  await app.db.query(`DELETE FROM job_claims c WHERE ${dead}`);
  await app.db.query(`DELETE FROM worker_sessions c WHERE NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = ${LOCK_CLASS} AND l.objid = c.id AND l.objsubid = 2 AND l.granted)`);
  return orphans.map((o) => ({ queue: o.queue, id: o.id }));
}

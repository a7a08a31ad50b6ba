import type { PgBoss } from 'pg-boss';
import type { App } from '../app.js';
import { createQueues, HEARTBEAT_SECONDS, newBoss } from '../db/queues.js';

// The worker's pg-boss (its own schema "pgboss" on the same database). Queue names, options and the
// typed send functions are in src/db/queues.ts, below the domain; only the worker starts pg-boss.

export { QUEUES, type PackageJob } from '../db/queues.js';

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

export async function startBoss(app: App): Promise<PgBoss> {
  const boss = newBoss(app, { supervise: true });
  await boss.start();
  await createQueues(boss, app.config);
  return boss;
}

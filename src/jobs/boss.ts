import { PgBoss } from 'pg-boss';
import type { App } from '../app.js';

// pg-boss on the same database (its own schema "pgboss"), started only by the commands that queue or
// run jobs. Queue names in one place.

export const QUEUES = { sendMail: 'mail.send' } as const;

export async function startBoss(app: App): Promise<PgBoss> {
  const conn = app.embedded ? app.embedded.connection : { connectionString: app.config.database.url! };
  const boss = new PgBoss({ ...(conn as object), application_name: `dossier:${process.pid}`, max: 4, schema: 'pgboss', schedule: false, supervise: true } as ConstructorParameters<typeof PgBoss>[0]);
  boss.on('error', () => {}); // surfaced where jobs fail; a transient maintenance error must not crash the CLI
  await boss.start();
  const r = app.config.mail.retry;
  // stately: one queued and one active job per outbox row (singletonKey), so a row is never sent by
  // two jobs at once however often it is queued.
  await boss.createQueue(QUEUES.sendMail, { policy: 'stately', retryLimit: r.limit, retryDelay: r.delaySeconds, retryBackoff: r.backoff, expireInSeconds: 600 }).catch(async (err: Error) => {
    if (!/exists/i.test(err.message)) throw err;
  });
  await boss.updateQueue(QUEUES.sendMail, { retryLimit: r.limit, retryDelay: r.delaySeconds, retryBackoff: r.backoff });
  return boss;
}

import type { App } from '../app.js';

// `dossier status`: what is waiting and what went wrong lately, read straight from the tables: the
// job queues, the outbox, the intake journal, SMS, and each mailbox's last pass. Read-only; it
// does not start pg-boss (the queue counts pg-boss keeps in pgboss.queue are refreshed by its
// monitor only every so often, so the jobs are counted here instead).

export interface QueueDepth { queue: string; queued: number; deferred: number; active: number; failed: number; completed: number; cancelled: number }

export interface MailboxStatus {
  mailbox: string;
  /** In intake.mailboxes now (a removed mailbox keeps its row). */
  configured: boolean;
  lastPollAt: Date | null;
  lastOkAt: Date | null;
  lastError: string | null;
  lastUid: number | null;
}

export interface StatusReport {
  at: Date;
  /** Start of the "last day" window. */
  since: Date;
  /** null: no pg-boss schema yet (no worker has run against this database). */
  queues: QueueDepth[] | null;
  outbox: Record<string, number>;
  sms: Record<string, number>;
  intake: {
    /** Outcomes of the messages received in the last 24 h; "pending" = journaled, not processed yet. */
    lastDay: Record<string, number>;
    pending: { count: number; oldest: Date | null };
    quarantined: { total: number; lastDay: number };
    /** Messages taken with some files dropped (over a limit), and Maildir files that could not be read at all. */
    partial: { total: number; lastDay: number };
    unreadable: { total: number; lastDay: number };
  };
  mailboxes: MailboxStatus[];
}

// Every state appears, with 0, so scripts can read a count without checking the key exists.
const OUTBOX_STATES = ['queued', 'sending', 'sent', 'delivered', 'failed', 'bounced', 'cancelled'];
const SMS_STATES = ['queued', 'sent', 'failed'];
const OUTCOMES = ['applied', 'partial', 'quarantined', 'ignored', 'refused', 'failed', 'pending'];

function counted(states: string[], rows: { k: string; n: number }[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(states.map((s) => [s, 0]));
  for (const r of rows) out[r.k] = r.n;
  return out;
}

async function queueDepths(app: App): Promise<QueueDepth[] | null> {
  const has = (await app.db.query<{ t: string | null }>(`SELECT to_regclass('pgboss.job')::text AS t`)).rows[0]!.t;
  if (!has) return null;
  // "created" and "retry" are both waiting; deferred = waiting but not before start_after (a backoff).
  const rows = (
    await app.db.query<QueueDepth>(`
      SELECT q.name AS queue,
             count(j.id) FILTER (WHERE j.state IN ('created', 'retry'))::int AS queued,
             count(j.id) FILTER (WHERE j.state IN ('created', 'retry') AND j.start_after > now())::int AS deferred,
             count(j.id) FILTER (WHERE j.state = 'active')::int AS active,
             count(j.id) FILTER (WHERE j.state = 'failed')::int AS failed,
             count(j.id) FILTER (WHERE j.state = 'completed')::int AS completed,
             count(j.id) FILTER (WHERE j.state = 'cancelled')::int AS cancelled
        FROM pgboss.queue q LEFT JOIN pgboss.job j ON j.name = q.name
       GROUP BY q.name ORDER BY q.name`)
  ).rows;
  return rows;
}

export async function systemStatus(app: App): Promise<StatusReport> {
  const q = async <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => (await app.db.query<T>(text, params)).rows;
  const { at, since } = (await q<{ at: Date; since: Date }>(`SELECT now() AS at, now() - interval '24 hours' AS since`))[0]!;
  const [queues, outbox, sms, lastDay, pending, quarantined, states, dropped] = await Promise.all([
    queueDepths(app),
    q<{ k: string; n: number }>(`SELECT status AS k, count(*)::int AS n FROM outbox GROUP BY status`),
    q<{ k: string; n: number }>(`SELECT status AS k, count(*)::int AS n FROM sms_outbox GROUP BY status`),
    q<{ k: string; n: number }>(`SELECT COALESCE(outcome, 'pending') AS k, count(*)::int AS n FROM inbound_messages WHERE received_at >= $1 GROUP BY 1`, [since]),
    q<{ count: number; oldest: Date | null }>(`SELECT count(*)::int AS count, min(received_at) AS oldest FROM inbound_messages WHERE outcome IS NULL`),
    q<{ total: number; last_day: number }>(`SELECT count(*)::int AS total, (count(*) FILTER (WHERE received_at >= $1))::int AS last_day FROM inbound_messages WHERE outcome = 'quarantined'`, [since]),
    q<{ mailbox: string; last_poll_at: Date | null; last_ok_at: Date | null; last_error: string | null; last_uid: number | null }>(`SELECT mailbox, last_poll_at, last_ok_at, last_error, last_uid FROM mailbox_state`),
    q<{ p: number; p_day: number; u: number; u_day: number }>(
      `SELECT (count(*) FILTER (WHERE outcome = 'partial'))::int AS p, (count(*) FILTER (WHERE outcome = 'partial' AND received_at >= $1))::int AS p_day,
              (count(*) FILTER (WHERE unreadable IS NOT NULL))::int AS u, (count(*) FILTER (WHERE unreadable IS NOT NULL AND received_at >= $1))::int AS u_day
         FROM inbound_messages WHERE outcome = 'partial' OR unreadable IS NOT NULL`,
      [since],
    ),
  ]);
  const configured = new Set(app.config.intake.mailboxes.map((m) => m.name));
  const seen = new Map(states.map((s) => [s.mailbox, s]));
  const mailboxes = [...new Set([...configured, ...seen.keys()])].sort().map((name): MailboxStatus => {
    const s = seen.get(name);
    return { mailbox: name, configured: configured.has(name), lastPollAt: s?.last_poll_at ?? null, lastOkAt: s?.last_ok_at ?? null, lastError: s?.last_error ?? null, lastUid: s?.last_uid ?? null };
  });
  return {
    at,
    since,
    queues,
    outbox: counted(OUTBOX_STATES, outbox),
    sms: counted(SMS_STATES, sms),
    intake: {
      lastDay: counted(OUTCOMES, lastDay),
      pending: pending[0]!,
      quarantined: { total: quarantined[0]!.total, lastDay: quarantined[0]!.last_day },
      partial: { total: dropped[0]!.p, lastDay: dropped[0]!.p_day },
      unreadable: { total: dropped[0]!.u, lastDay: dropped[0]!.u_day },
    },
    mailboxes,
  };
}

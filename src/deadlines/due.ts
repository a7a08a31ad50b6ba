import type { Actor, App } from '../app.js';
import type { Config } from '../config/schema.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { enqueueMail } from '../outbound/outbox.js';
import { replyAddress, subjectTag } from '../outbound/tokens.js';
import { recordEvent } from '../records/events.js';
import { addDays, calendarOf, localDay, workingDaysBetween } from './calendar.js';

// Deadlines, computed from the audit trail: the clock of a counterparty starts when its package
// email was sent (the first `mail_sent` of a package outbox row to it); its acknowledgement is its
// first real answer — a message from it that intake applied (auto-replies are journaled as ignored
// and never count) or a decision in its section; its decision is the first approved/declined there.
// The worker calls sendReminders and sendDigest (the lead wires the schedule); `dossier due` lists.

export type Step = 'acknowledgement' | 'decision';
export type DueState = 'overdue' | 'due_soon' | 'waiting' | 'answered' | 'answered_late';

export interface DueItem {
  ref: string;
  recordId: number;
  type: string;
  party: string;
  partyId: number;
  partyName: string;
  kind: string;
  step: Step;
  days: number;
  count: 'working' | 'calendar';
  sentAt: Date;
  dueAt: Date;
  answeredAt: Date | null;
  state: DueState;
  /** Working days past due (overdue), or until due (waiting, due soon). */
  workingDays: number;
  emails: string[];
}

type Expectation = Config['deadlines']['expect'][number];

/** The expectations for one counterparty: its own (by key) where given, else its kind's, per step. */
export function expectationsFor(config: Config, type: string, party: { key: string; kind: string }): Expectation[] {
  const out: Expectation[] = [];
  for (const step of ['acknowledgement', 'decision'] as const) {
    const mine = config.deadlines.expect.filter((e) => e.type === type && e.step === step);
    const e = mine.find((x) => x.party === party.key) ?? mine.find((x) => x.kind === party.kind);
    if (e) out.push(e);
  }
  return out;
}

interface Started { record_id: number; ref: string; type: string; status: string; party_id: number; key: string; kind: string; name: string; emails: string[]; sent_at: Date; ack_at: Date | null; decision_at: Date | null }

async function startedClocks(q: Queryable): Promise<Started[]> {
  return (
    await q.query<Started>(
      `WITH sent AS (
         SELECT e.record_id, e.party_id, min(e.at) AS sent_at FROM events e
         JOIN outbox o ON o.id = (e.new_value ->> 'outbox')::bigint AND o.kind = 'package'
         WHERE e.kind = 'mail_sent' AND e.party_id IS NOT NULL GROUP BY 1, 2)
       SELECT s.record_id::int, r.ref, r.type, r.status, s.party_id::int, p.key, p.kind, p.name, p.emails, s.sent_at,
         (SELECT min(at) FROM (
            SELECT im.received_at AS at FROM inbound_messages im
            WHERE im.record_id = s.record_id AND im.party_id = s.party_id AND im.outcome = 'applied' AND im.received_at >= s.sent_at
            UNION ALL
            SELECT e.at FROM events e WHERE e.record_id = s.record_id AND e.party_id = s.party_id AND e.kind = 'field_set' AND e.field = 'decision' AND e.at >= s.sent_at
          ) a) AS ack_at,
         (SELECT min(e.at) FROM events e WHERE e.record_id = s.record_id AND e.party_id = s.party_id AND e.kind = 'field_set' AND e.field = 'decision'
            AND e.new_value #>> '{}' IN ('approved', 'declined') AND e.at >= s.sent_at) AS decision_at
       FROM sent s JOIN records r ON r.id = s.record_id JOIN parties p ON p.id = s.party_id
       ORDER BY s.sent_at, r.ref, p.key`,
    )
  ).rows;
}

/** Every clock that has started, with its state at `now`. Records in a final status are left out. */
/** What the clocks need: the configuration and a database (the report passes its own connection). */
export type DueHost = Pick<App, 'config'> & { db: Queryable };

export async function computeDue(app: DueHost, opts: { now?: Date; includeFinal?: boolean } = {}): Promise<DueItem[]> {
  const now = opts.now ?? new Date();
  const cal = calendarOf(app.config.deadlines);
  const items: DueItem[] = [];
  for (const s of await startedClocks(app.db)) {
    if (!opts.includeFinal && app.config.recordTypes[s.type]?.final.includes(s.status)) continue;
    for (const e of expectationsFor(app.config, s.type, s)) {
      const dueAt = addDays(s.sent_at, e.days, e.count, cal);
      const answeredAt = e.step === 'decision' ? s.decision_at : s.ack_at;
      let state: DueState;
      if (answeredAt) state = answeredAt > dueAt ? 'answered_late' : 'answered';
      else if (now > dueAt) state = 'overdue';
      else state = addDays(now, app.config.deadlines.dueSoonWorkingDays, 'working', cal) >= dueAt ? 'due_soon' : 'waiting';
      items.push({
        ref: s.ref, recordId: s.record_id, type: s.type, party: s.key, partyId: s.party_id, partyName: s.name, kind: s.kind, step: e.step, days: e.days, count: e.count,
        sentAt: s.sent_at, dueAt, answeredAt, state, workingDays: Math.abs(workingDaysBetween(now, answeredAt ?? dueAt, cal)), emails: s.emails,
      });
    }
  }
  return items;
}

/** `dossier due`: overdue and due soon (everything with --all). */
export async function listDue(app: App, opts: { all?: boolean | undefined; now?: Date } = {}): Promise<DueItem[]> {
  const items = await computeDue(app, opts.now ? { now: opts.now } : {});
  return opts.all ? items : items.filter((i) => i.state === 'overdue' || i.state === 'due_soon');
}

const NO_REPLY = /^(no-?reply|do-?not-?reply|mailer-daemon|postmaster)@/i;

/**
 * The addresses of a party that a reminder may go to: not a no-reply address, and not one whose last
 * message to us was an auto-reply (an auto-responder answering would only start a loop of robots).
 */
async function humanAddresses(q: Queryable, emails: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const addr of emails) {
    if (NO_REPLY.test(addr)) continue;
    const last = (await q.query<{ reason: string | null; outcome: string | null }>('SELECT outcome, reason FROM inbound_messages WHERE lower(from_address) = lower($1) ORDER BY received_at DESC, id DESC LIMIT 1', [addr])).rows[0];
    if (last && last.outcome === 'ignored' && /auto-reply/i.test(last.reason ?? '')) continue;
    out.push(addr);
  }
  return out;
}

export interface ReminderOutcome { ref: string; party: string; step: Step; outbox: number | null; skipped?: string }

const STEP_RU: Record<Step, string> = { acknowledgement: 'подтверждение получения документов', decision: 'решение' };
const dayRu = (d: Date, tz: string) => localDay(d, tz).day.split('-').reverse().join('.');

/**
 * For the worker (say hourly): one reminder email to each counterparty with an overdue answer, at
 * most once per deadlines.reminderIntervalDays per record and party, never to an auto-responder.
 * Writes outbox rows (and a `deadline_reminder` event); returns them — queue their jobs after.
 */
export async function sendReminders(app: App, actor: Actor, opts: { now?: Date } = {}): Promise<ReminderOutcome[]> {
  const now = opts.now ?? new Date();
  const intervalMs = app.config.deadlines.reminderIntervalDays * 86_400_000;
  const overdue = (await computeDue(app, { now })).filter((i) => i.state === 'overdue');
  const out: ReminderOutcome[] = [];
  const done = new Set<string>();
  for (const item of overdue) {
    const key = `${item.recordId}:${item.partyId}`;
    if (done.has(key)) continue; // one reminder per counterparty and record, for its earliest overdue step
    done.add(key);
    await withTransaction(app.db, async (c) => {
      // Serialises two workers deciding about the same counterparty at once.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`deadline-reminder:${key}`]);
      // The time the caller decided at (new_value.at: `now`, which the worker passes as the clock).
      const last = (await c.query<{ at: Date | null }>(`SELECT max((new_value ->> 'at')::timestamptz) AS at FROM events WHERE kind = 'deadline_reminder' AND record_id = $1 AND party_id = $2`, [item.recordId, item.partyId])).rows[0]?.at;
      if (last && now.getTime() - last.getTime() < intervalMs) return void out.push({ ref: item.ref, party: item.party, step: item.step, outbox: null, skipped: `reminded ${last.toISOString()}` });
      const to = await humanAddresses(c, item.emails);
      if (!to.length) return void out.push({ ref: item.ref, party: item.party, step: item.step, outbox: null, skipped: 'no address that is not an auto-responder' });
      // The token the party already holds (issued with its package): a reminder neither renews nor
      // revives one, so a revoked or expired token stays so.
      const token = (await c.query<{ reply_token: string | null }>('SELECT reply_token FROM record_parties WHERE record_id = $1 AND party_id = $2 AND reply_token IS NOT NULL LIMIT 1', [item.recordId, item.partyId])).rows[0]?.reply_token ?? null;
      const tz = app.config.deadlines.timeZone;
      const row = await enqueueMail(app, c, actor, {
        recordId: item.recordId,
        partyId: item.partyId,
        kind: 'notification',
        to,
        replyTo: token ? replyAddress(app.config.mail.intakeAddress, item.ref, token) : app.config.mail.intakeAddress,
        subject: `${token ? subjectTag(item.ref, token) : subjectTag(item.ref)} Напоминание: ожидаем ${STEP_RU[item.step]} по заявке ${item.ref}`,
        text: [
          'Здравствуйте!',
          '',
          `${dayRu(item.sentAt, tz)} мы направили вам документы по заявке ${item.ref}. Ожидаемый срок ответа (${STEP_RU[item.step]}) — ${dayRu(item.dueAt, tz)}, ответа пока нет.`,
          '',
          'Пожалуйста, ответьте на это письмо.',
          '',
          '--',
          'Dossier',
        ].join('\n'),
        automatic: true,
      });
      await recordEvent(c, actor, { recordId: item.recordId, partyId: item.partyId, kind: 'deadline_reminder', field: `outbox:${row.id}`, newValue: { step: item.step, due: item.dueAt.toISOString(), at: now.toISOString(), outbox: row.id, to } });
      out.push({ ref: item.ref, party: item.party, step: item.step, outbox: row.id });
    });
  }
  return out;
}

export interface DigestOutcome { day: string; outbox: number | null; overdue: number; dueSoon: number; skipped?: string }

/**
 * For the worker (once a day, any time after the office opens): one email to staff listing what is
 * overdue and due soon. At most one per local day, however many workers call it; none when nothing is due.
 */
export async function sendDigest(app: App, actor: Actor, opts: { now?: Date } = {}): Promise<DigestOutcome> {
  const now = opts.now ?? new Date();
  const tz = app.config.deadlines.timeZone;
  const day = localDay(now, tz).day;
  const items = (await computeDue(app, { now })).filter((i) => i.state === 'overdue' || i.state === 'due_soon');
  const overdue = items.filter((i) => i.state === 'overdue');
  const soon = items.filter((i) => i.state === 'due_soon');
  const to = app.config.deadlines.digestTo.length ? app.config.deadlines.digestTo : app.config.mail.staff;
  return withTransaction(app.db, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`deadline-digest:${day}`]);
    const sent = (await c.query(`SELECT 1 FROM events WHERE kind = 'deadline_digest' AND new_value ->> 'day' = $1`, [day])).rowCount;
    if (sent) return { day, outbox: null, overdue: overdue.length, dueSoon: soon.length, skipped: 'already sent today' };
    if (!items.length) return { day, outbox: null, overdue: 0, dueSoon: 0, skipped: 'nothing overdue or due soon' };
    if (!to.length) return { day, outbox: null, overdue: overdue.length, dueSoon: soon.length, skipped: 'no staff address (mail.staff, deadlines.digestTo)' };
    const line = (i: DueItem) => `  ${i.ref}  ${i.partyName} (${i.party}): ${STEP_RU[i.step]} — срок ${dayRu(i.dueAt, tz)}${i.state === 'overdue' ? `, просрочено на ${i.workingDays} раб. дн.` : ''}`;
    const text = [
      `Сроки ответов на ${day.split('-').reverse().join('.')}.`,
      '',
      ...(overdue.length ? [`Просрочено (${overdue.length}):`, ...overdue.map(line), ''] : []),
      ...(soon.length ? [`Срок подходит (${soon.length}):`, ...soon.map(line), ''] : []),
      'Подробнее: dossier due',
    ].join('\n');
    const row = await enqueueMail(app, c, actor, { recordId: null, partyId: null, kind: 'notification', to, subject: `Dossier: сроки ответов — просрочено ${overdue.length}, подходит ${soon.length}`, text, automatic: true });
    await recordEvent(c, actor, { kind: 'deadline_digest', field: `outbox:${row.id}`, newValue: { day, outbox: row.id, overdue: overdue.length, dueSoon: soon.length } });
    return { day, outbox: row.id, overdue: overdue.length, dueSoon: soon.length };
  });
}

export interface PromiseKept { party: string; partyName: string; type: string; step: Step; promised: string; answered: number; onTime: number; medianWorkingDays: number | null; waiting: number; overdue: number }

/**
 * Each counterparty's time to answer against its promise, per record type and step — for the report
 * (`dossier due --summary` until the report shows it): how many answered, how many within the
 * promised time, the median in working days, and how many are still waiting or overdue.
 */
export async function timeAgainstPromise(app: DueHost, opts: { now?: Date } = {}): Promise<PromiseKept[]> {
  const cal = calendarOf(app.config.deadlines);
  const groups = new Map<string, { row: PromiseKept; days: number[] }>();
  // Records that reached a final status count too: their answers are part of the record of promises kept.
  for (const i of await computeDue(app, { ...opts, includeFinal: true })) {
    const key = `${i.type}:${i.party}:${i.step}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { row: { party: i.party, partyName: i.partyName, type: i.type, step: i.step, promised: `${i.days} ${i.count}`, answered: 0, onTime: 0, medianWorkingDays: null, waiting: 0, overdue: 0 }, days: [] }));
    if (i.answeredAt) {
      g.row.answered++;
      if (i.state === 'answered') g.row.onTime++;
      g.days.push(workingDaysBetween(i.sentAt, i.answeredAt, cal));
    } else if (i.state === 'overdue') g.row.overdue++;
    else g.row.waiting++;
  }
  return [...groups.values()].map(({ row, days }) => {
    const s = days.sort((a, b) => a - b);
    return { ...row, medianWorkingDays: s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : null };
  });
}

export interface DeadlineRun { reminders: ReminderOutcome[]; digest: DigestOutcome | null; outbox: number[] }

/**
 * What the worker does every deadlines.checkMinutes (the `deadlines.run` job): remind silent
 * counterparties (sendReminders keeps to the interval and skips auto-responders), and from
 * deadlines.digestHour on, the day's digest to staff (sendDigest sends one a day). Returns the outbox
 * rows written, for the caller to queue.
 */
export async function runDeadlines(app: App, actor: Actor, opts: { now?: Date } = {}): Promise<DeadlineRun> {
  const now = opts.now ?? new Date();
  const reminders = await sendReminders(app, actor, { now });
  const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: app.config.deadlines.timeZone, hour: '2-digit', hourCycle: 'h23' }).format(now));
  const digest = hour >= app.config.deadlines.digestHour ? await sendDigest(app, actor, { now }) : null;
  return { reminders, digest, outbox: [...reminders.map((r) => r.outbox), digest?.outbox ?? null].filter((x): x is number => x !== null) };
}

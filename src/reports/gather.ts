import type { Config, Language } from '../config/schema.js';
import type { Queryable } from '../db/pool.js';
import type { Label } from '../schemas/types.js';
import { timeAgainstPromise, type PromiseKept } from '../deadlines/due.js';
import { listEvidence } from '../evidence/reuse.js';

// The figures of `dossier report`, read from the tables in one go. Everything is measured from the
// audit trail (events) rather than from the current rows, because only the trail knows *when*
// something happened:
//  - a bank's (deal) or insurer's (claim) decision is the first `field_set` of `decision` in its
//    section to approved or declined, counted only while that section still holds approved or
//    declined (a request for more documents is an answer, not a decision; a decision taken back is
//    not one any more) — whether it came from a forwarded email (mail ingest) or `field set`;
//  - the final status is the first `status_changed` into one of recordTypes.<type>.final;
//  - both are measured from records.created_at, in days.
// `since` selects records created from then on (and outbox rows and journaled messages from then on).

export const DECISIONS = ['approved', 'declined', 'more_info'] as const;
export type Decision = (typeof DECISIONS)[number];
export const OUTBOX_STATUSES = ['queued', 'sending', 'sent', 'failed', 'bounced'] as const;
export const INTAKE_OUTCOMES = ['applied', 'partial', 'quarantined', 'ignored', 'refused', 'failed', 'pending'] as const;

export interface ReportFilter { type?: string | undefined; since?: Date | undefined }

export interface StatusCount { type: string; typeLabel: Label; status: string; label: Label; final: boolean; count: number }

/** Durations of one kind: how many, median and 90th percentile (linear interpolation, as percentile_cont). */
export interface Timing { count: number; medianDays: number | null; p90Days: number | null }

/** One row of the timing section; `party` null is every decider of the type together. */
export interface PartyTiming { type: string; party: string | null; partyName: string | null; decision: Timing; final: Timing }

export interface DecisionCount { type: string; party: string; partyName: string; approved: number; declined: number; more_info: number; total: number }

export interface OutboxStats {
  total: number;
  byStatus: { status: string; count: number }[];
  bounced: number;
  failed: number;
  /** Over the messages tried at least once (a queued one that never went out would pull it down). */
  avgAttempts: number | null;
  /** From queueing to the server accepting it, over the messages that were sent. */
  sendTime: { count: number; medianMinutes: number | null; p90Minutes: number | null; avgMinutes: number | null };
}

export interface IntakeStats { total: number; byOutcome: { outcome: string; count: number }[] }

export interface Report {
  generatedAt: string;
  /** The language its texts are written in (the configuration's `language`). */
  language: Language;
  filter: { type: string | null; since: string | null };
  statuses: StatusCount[];
  timings: PartyTiming[];
  decisions: DecisionCount[];
  outbox: OutboxStats;
  intake: IntakeStats;
  /** Each counterparty's time to answer against its promise (deadlines.expect), per type and step. */
  promises: PromiseKept[];
  /** The same file or a near-identical photo on two records (issue 17), found since --since, touching --type. */
  evidence: ReusedPair[];
}

export interface ReusedPair { method: 'sha256' | 'perceptual'; similarity: number; foundAt: string; a: { ref: string; file: string }; b: { ref: string; file: string } }

const round = (n: number | string | null, digits: number): number | null => (n === null ? null : Math.round(Number(n) * 10 ** digits) / 10 ** digits);
const timing = (r: { n: number; median: number | null; p90: number | null } | undefined): Timing => ({ count: r?.n ?? 0, medianDays: round(r?.median ?? null, 2), p90Days: round(r?.p90 ?? null, 2) });

// The records the report is about; $1 type (or NULL), $2 created since (or NULL).
const RECS = `recs AS (SELECT id, type, status, created_at FROM records WHERE ($1::text IS NULL OR type = $1) AND ($2::timestamptz IS NULL OR created_at >= $2))`;

export async function gatherReport(q: Queryable, config: Config, filter: ReportFilter): Promise<Report> {
  const types = Object.keys(config.recordTypes).filter((t) => !filter.type || t === filter.type);
  const p = [filter.type ?? null, filter.since?.toISOString() ?? null];
  const finals = types.flatMap((t) => config.recordTypes[t]!.final.map((s) => `${t}:${s}`));

  // Records by status: every configured status, in the configured order, zeros included.
  const counted = (await q.query<{ type: string; status: string; n: number }>(`WITH ${RECS} SELECT type, status, count(*)::int AS n FROM recs GROUP BY 1, 2`, p)).rows;
  const statuses: StatusCount[] = [];
  for (const t of types) {
    const rt = config.recordTypes[t]!;
    const known = Object.entries(rt.statuses).map(([status, label]) => ({ status, label }));
    // A status no longer in the configuration still has records: shown under its own name.
    for (const c of counted) if (c.type === t && !(c.status in rt.statuses)) known.push({ status: c.status, label: { ru: c.status, en: c.status } });
    for (const { status, label } of known) {
      statuses.push({ type: t, typeLabel: rt.label, status, label, final: rt.final.includes(status), count: counted.find((c) => c.type === t && c.status === status)?.n ?? 0 });
    }
  }

  type Pct = { type: string; key: string | null; name: string | null; n: number; median: number | null; p90: number | null };
  const PCT = `count(*)::int AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median, percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90`;
  const decisionTimes = (
    await q.query<Pct>(
      `WITH ${RECS},
       first_decision AS (
         SELECT e.record_id, e.party_id, min(e.at) AS at FROM events e JOIN recs r ON r.id = e.record_id
         WHERE e.kind = 'field_set' AND e.field = 'decision' AND e.party_id IS NOT NULL AND e.new_value #>> '{}' IN ('approved', 'declined')
         GROUP BY 1, 2),
       samples AS (
         SELECT r.type, pa.key, pa.name, extract(epoch FROM d.at - r.created_at) / 86400 AS days
         FROM first_decision d
         JOIN field_values fv ON fv.record_id = d.record_id AND fv.party_id = d.party_id AND fv.field_id = 'decision' AND fv.value #>> '{}' IN ('approved', 'declined')
         JOIN recs r ON r.id = d.record_id JOIN parties pa ON pa.id = d.party_id)
       SELECT type, key, name, ${PCT} FROM samples GROUP BY GROUPING SETS ((type), (type, key, name))`,
      p,
    )
  ).rows;
  // Time to the final status, per record, and per decider on the record: its recipients of a kind
  // that gives decisions on this type (banks on deals, insurers on claims, as the data shows).
  const finalTimes = (
    await q.query<Pct>(
      `WITH ${RECS},
       final_at AS (
         SELECT e.record_id, min(e.at) AS at FROM events e JOIN recs r ON r.id = e.record_id
         WHERE e.kind = 'status_changed' AND r.type || ':' || (e.new_value #>> '{}') = ANY($3::text[]) GROUP BY 1),
       deciders AS (
         SELECT DISTINCT r.type, pa.kind FROM field_values fv JOIN records r ON r.id = fv.record_id JOIN parties pa ON pa.id = fv.party_id WHERE fv.field_id = 'decision'),
       samples AS (
         SELECT r.id, r.type, extract(epoch FROM f.at - r.created_at) / 86400 AS days FROM final_at f JOIN recs r ON r.id = f.record_id)
       SELECT type, NULL AS key, NULL AS name, ${PCT} FROM samples GROUP BY type
       UNION ALL
       SELECT s.type, pa.key, pa.name, ${PCT} FROM samples s
         JOIN record_parties rp ON rp.record_id = s.id AND rp.role = 'recipient' JOIN parties pa ON pa.id = rp.party_id
         JOIN deciders d ON d.type = s.type AND d.kind = pa.kind
       GROUP BY s.type, pa.key, pa.name`,
      [...p, finals],
    )
  ).rows;
  const timings: PartyTiming[] = [];
  for (const t of types) {
    const find = (rows: Pct[], key: string | null) => rows.find((r) => r.type === t && r.key === key);
    const keys = new Map<string, string>();
    for (const r of [...decisionTimes, ...finalTimes]) if (r.type === t && r.key !== null) keys.set(r.key, r.name ?? r.key);
    timings.push({ type: t, party: null, partyName: null, decision: timing(find(decisionTimes, null)), final: timing(find(finalTimes, null)) });
    for (const [key, name] of [...keys].sort((a, b) => a[0].localeCompare(b[0]))) {
      timings.push({ type: t, party: key, partyName: name, decision: timing(find(decisionTimes, key)), final: timing(find(finalTimes, key)) });
    }
  }

  // Decisions as the sections hold them now, per decider.
  const decisionRows = (
    await q.query<{ type: string; key: string; name: string; outcome: string; n: number }>(
      `WITH ${RECS}
       SELECT r.type, pa.key, pa.name, fv.value #>> '{}' AS outcome, count(*)::int AS n
       FROM field_values fv JOIN recs r ON r.id = fv.record_id JOIN parties pa ON pa.id = fv.party_id
       WHERE fv.field_id = 'decision' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2`,
      p,
    )
  ).rows;
  const decisions: DecisionCount[] = [];
  for (const r of decisionRows) {
    let d = decisions.find((x) => x.type === r.type && x.party === r.key);
    if (!d) decisions.push((d = { type: r.type, party: r.key, partyName: r.name, approved: 0, declined: 0, more_info: 0, total: 0 }));
    if ((DECISIONS as readonly string[]).includes(r.outcome)) d[r.outcome as Decision] += r.n;
    d.total += r.n;
  }
  decisions.sort((a, b) => types.indexOf(a.type) - types.indexOf(b.type) || a.party.localeCompare(b.party));

  // Mail out: with --type only the mail about records of that type.
  const OUT = `o AS (SELECT o.* FROM outbox o LEFT JOIN records r ON r.id = o.record_id WHERE ($1::text IS NULL OR r.type = $1) AND ($2::timestamptz IS NULL OR o.created_at >= $2))`;
  const byStatus = (await q.query<{ status: string; n: number }>(`WITH ${OUT} SELECT status, count(*)::int AS n FROM o GROUP BY 1`, p)).rows;
  const out = (
    await q.query<{ attempts: number | null; n: number; median: number | null; p90: number | null; avg: number | null }>(
      `WITH ${OUT}, sent AS (SELECT extract(epoch FROM sent_at - created_at) / 60 AS minutes FROM o WHERE sent_at IS NOT NULL)
       SELECT (SELECT avg(attempts) FROM o WHERE attempts > 0) AS attempts, count(*)::int AS n,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) AS median, percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) AS p90, avg(minutes) AS avg
       FROM sent`,
      p,
    )
  ).rows[0]!;
  const statusCount = (s: string) => byStatus.find((b) => b.status === s)?.n ?? 0;
  const outbox: OutboxStats = {
    total: byStatus.reduce((a, b) => a + b.n, 0),
    byStatus: OUTBOX_STATUSES.map((status) => ({ status, count: statusCount(status) })),
    bounced: statusCount('bounced'),
    failed: statusCount('failed'),
    avgAttempts: round(out.attempts, 2),
    sendTime: { count: out.n, medianMinutes: round(out.median, 1), p90Minutes: round(out.p90, 1), avgMinutes: round(out.avg, 1) },
  };

  // The intake journal: with --type only the messages routed to a record of that type.
  const outcomes = (
    await q.query<{ outcome: string; n: number }>(
      `SELECT COALESCE(m.outcome, 'pending') AS outcome, count(*)::int AS n FROM inbound_messages m LEFT JOIN records r ON r.id = m.record_id
       WHERE ($1::text IS NULL OR r.type = $1) AND ($2::timestamptz IS NULL OR m.received_at >= $2) GROUP BY 1`,
      p,
    )
  ).rows;
  const intake: IntakeStats = {
    total: outcomes.reduce((a, b) => a + b.n, 0),
    byOutcome: INTAKE_OUTCOMES.map((outcome) => ({ outcome, count: outcomes.find((o) => o.outcome === outcome)?.n ?? 0 })),
  };

  return {
    generatedAt: new Date().toISOString(),
    language: config.language,
    filter: { type: filter.type ?? null, since: filter.since?.toISOString() ?? null },
    statuses,
    timings,
    decisions,
    outbox,
    intake,
    promises: (await timeAgainstPromise({ config, db: q })).filter((x) => !filter.type || x.type === filter.type),
    evidence: await reusedPairs(q, filter),
  };
}

async function reusedPairs(q: Queryable, filter: ReportFilter): Promise<ReusedPair[]> {
  const pairs = await listEvidence(q);
  const refs = [...new Set(pairs.flatMap((p) => [p.a.ref, p.b.ref]))];
  const types = new Map((await q.query<{ ref: string; type: string }>('SELECT ref, type FROM records WHERE ref = ANY($1::text[])', [refs])).rows.map((r) => [r.ref, r.type]));
  return pairs
    .filter((p) => (!filter.type || types.get(p.a.ref) === filter.type || types.get(p.b.ref) === filter.type) && (!filter.since || p.foundAt >= filter.since))
    .map((p) => ({ method: p.method, similarity: p.similarity, foundAt: p.foundAt.toISOString(), a: { ref: p.a.ref, file: p.a.file }, b: { ref: p.b.ref, file: p.b.file } }));
}

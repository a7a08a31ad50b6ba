import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { tokenSecrets, type TokenSecrets } from '../outbound/settings.js';
import type { OutboxFact, RecordFact } from '../routing/intent.js';
import type { RoutingFacts } from '../routing/route.js';
import type { FieldRoles } from '../schemas/load.js';
import { squash } from '../text/clean.js';
import { refsNamed } from '../text/refs.js';
import { tokenFacts } from './trust.js';
import type { PartyDmarcVerdict } from './party-sender.js';
import type { StaffAuthVerdict } from './verify.js';
import type { ParsedMessage } from './types.js';

// The database facts routing needs, gathered in one round trip per message (one statement; the
// client-name index for staff mail is loaded once per pass).
// What does not change during a pass — the staff list, the token secret, the field roles, the
// client names of open records — is kept in a PassCache that the mailbox pass hands to each message.

export interface PassCache {
  staff: Set<string>;
  secrets: Promise<TokenSecrets> | null;
  roles: FieldRoles | null;
  names: Promise<{ ref: string; names: string[] }[]> | null;
}

export function newPassCache(app: App): PassCache {
  return { staff: new Set(app.config.mail.staff.map((s) => s.toLowerCase())), secrets: null, roles: null, names: null };
}

export const isStaffAddress = (cache: PassCache, m: ParsedMessage) => Boolean(m.from && cache.staff.has(m.from.address.toLowerCase()));

const FACTS_SQL = `
WITH ours AS (
  SELECT o.id, o.message_id, o.record_id, o.party_id, r.ref, p.key AS party, o.to_addresses, o.status
  FROM outbox o LEFT JOIN records r ON r.id = o.record_id LEFT JOIN parties p ON p.id = o.party_id
  WHERE o.message_id = ANY($1::text[])
), recs AS (
  SELECT r.id, r.ref, r.type, r.status FROM records r WHERE r.ref = ANY($2::text[]) OR r.id IN (SELECT record_id FROM ours)
)
SELECT
  (SELECT coalesce(json_agg(ours), '[]') FROM ours) AS ours,
  (SELECT coalesce(json_agg(json_build_object('id', r.id, 'ref', r.ref, 'type', r.type, 'status', r.status, 'parties',
     (SELECT coalesce(json_agg(json_build_object('id', p.id, 'key', p.key, 'kind', p.kind, 'name', p.name, 'role', rp.role, 'emails', p.emails, 'domains', p.domains, 'phone', p.phone) ORDER BY rp.created_at, p.key), '[]')
      FROM record_parties rp JOIN parties p ON p.id = rp.party_id WHERE rp.record_id = r.id))), '[]') FROM recs r) AS records,
  (SELECT count(*)::int + 1 FROM inbound_messages WHERE $3::text IS NOT NULL AND from_address = $3 AND received_at > now() - interval '1 hour' AND id < $4
     AND authenticated = $5) AS sender_count,
  (SELECT min(p.id)::int FROM inbound_messages me JOIN inbound_messages p
     ON p.message_id = me.message_id AND p.from_address IS NOT DISTINCT FROM me.from_address AND p.id <> me.id
   WHERE me.id = $4 AND me.message_id IS NOT NULL AND p.outcome IN ('applied', 'refused')) AS repeat_of,
  -- Asked inside the transaction that acts: the message's row locked in the same round trip
  -- (null when it was decided meanwhile, or another worker holds it).
  (SELECT id FROM inbound_messages WHERE $6 AND id = $4 AND outcome IS NULL FOR UPDATE SKIP LOCKED) IS NOT NULL AS locked`;

/**
 * `journalId`: the message's journal row (the rate limit counts the sender's messages up to it);
 * `lock`: lock that row too, in the same statement (`locked` says whether it was free and undecided).
 * Authenticated staff mail and mail that only claims the address are counted apart (a row not yet
 * processed is neither: it is counted once its outcome, and whether it was authenticated, is known).
 */
export async function gatherFacts(app: App, q: Queryable, cache: PassCache, m: ParsedMessage, staffAuth: StaffAuthVerdict | null, journalId: number, partyAuth: PartyDmarcVerdict | null = null, opts: { lock?: boolean } = {}): Promise<RoutingFacts & { locked: boolean }> {
  const ids = [m.inReplyTo, ...m.references, m.bounce?.originalMessageId].filter((x): x is string => Boolean(x));
  // The forwarded mail's own subject counts too: a bank's reply to our package keeps our tag there
  // when the manager's subject has none.
  const refs = [...new Set([...refsNamed(m.subject, [...m.deliveredTo, ...m.to.map((x) => x.address), ...m.cc.map((x) => x.address)]), ...refsNamed(m.forwarded?.subject ?? '', [])])];
  const from = m.from?.address.toLowerCase() ?? null;
  // Staff mail may name its record only by the client's name: matched in memory against the pass's
  // name index, and the matching records read in the same statement as the rest.
  const nameMatches = isStaffAddress(cache, m) ? await clientNameMatches(app, q, cache, m) : [];
  const row = (await q.query<{ ours: OutboxFact[]; records: RecordFact[]; sender_count: number; repeat_of: number | null; locked: boolean }>({ name: 'intake-facts', text: FACTS_SQL, values: [ids, [...new Set([...refs, ...nameMatches])], from, journalId, staffAuth?.ok === true, opts.lock === true] })).rows[0]!;
  const records = new Map(row.records.map((r) => [r.ref, r]));
  const tokens = await tokenFacts(app, q, await (cache.secrets ??= tokenSecrets(app)), m, new Set(records.keys()));
  return {
    ourMessages: new Map(row.ours.map((o) => [o.message_id, o])),
    records,
    tokenOwner: tokens.owner,
    tokenProblems: tokens.problems,
    staff: cache.staff,
    staffAuthPassed: staffAuth ? staffAuth.ok : null,
    staffAuthReason: staffAuth?.reason ?? null,
    nameMatches,
    senderCount: row.sender_count,
    senderAuthenticated: staffAuth?.ok === true,
    partyDmarc: partyAuth ? { quarantine: partyAuth.quarantine, reason: partyAuth.reason } : null,
    finalStatuses: Object.fromEntries(Object.entries(app.config.recordTypes).map(([t, rt]) => [t, rt.final])),
    repeatOf: row.repeat_of,
    perSenderPerHour: app.config.intake.perSenderPerHour,
    locked: row.locked,
  };
}

/** Our own mail come back and auto-replies are noise whatever the database says: route() asks nothing. */
export function needsFacts(m: ParsedMessage): boolean {
  return !(m.ours || (m.auto && !m.bounce));
}

/** The facts of a message route() decides without them (see needsFacts). */
export function noFacts(cache: PassCache): RoutingFacts {
  return { ourMessages: new Map(), records: new Map(), tokenOwner: () => null, tokenProblems: [], staff: cache.staff, staffAuthPassed: null, staffAuthReason: null, nameMatches: [], senderCount: 0, perSenderPerHour: Infinity };
}

/** Field roles of the schemas (roles.yaml), once per pass. */
export function fieldRoles(app: App, cache: PassCache): FieldRoles {
  return (cache.roles ??= app.schemas.roles());
}

/**
 * Open records whose client the message names: "Смирнов Алексей Викторович", "Смирнов А.В." or
 * "Смирнов А. В." for a person; an organisation's name without its legal form; a vehicle plate.
 * Which fields those are is declared per record type in field-schemas/roles.yaml.
 */
export async function clientNameMatches(app: App, q: Queryable, cache: PassCache, m: ParsedMessage): Promise<string[]> {
  const index = await (cache.names ??= nameIndex(app, q, fieldRoles(app, cache)));
  const hay = squash([m.subject, m.forwarded?.subject ?? '', m.forwarded?.text.slice(0, 4000) ?? '', m.ownText.slice(0, 2000)].join('\n'));
  return index.filter((r) => r.names.some((n) => hay.includes(n))).map((r) => r.ref);
}

async function nameIndex(app: App, q: Queryable, roles: FieldRoles): Promise<{ ref: string; names: string[] }[]> {
  const wanted = Object.entries(roles).flatMap(([type, r]) => [r.client_last_name, r.client_first_name, r.client_middle_name, r.client_name, r.vehicle_plate].filter((f): f is string => Boolean(f)).map((f) => `${type}:${f}`));
  const finals = Object.entries(app.config.recordTypes).flatMap(([t, rt]) => rt.final.map((f) => `${t}:${f}`));
  const rows = (
    await q.query<{ ref: string; type: string; status: string; field_id: string; value: unknown }>(
      `SELECT r.ref, r.type, r.status, fv.field_id, fv.value FROM records r JOIN field_values fv ON fv.record_id = r.id AND fv.party_id IS NULL
       WHERE r.type || ':' || fv.field_id = ANY($1::text[])`,
      [wanted],
    )
  ).rows.filter((r) => !finals.includes(`${r.type}:${r.status}`));
  const byRef = new Map<string, { type: string; v: Record<string, string> }>();
  for (const r of rows) {
    const e = byRef.get(r.ref) ?? { type: r.type, v: {} };
    e.v[r.field_id] = String(r.value);
    byRef.set(r.ref, e);
  }
  const index: { ref: string; names: string[] }[] = [];
  for (const [ref, { type, v }] of byRef) {
    const role = roles[type] ?? {};
    const get = (f: string | undefined) => (f && v[f] ? squash(v[f]) : '');
    const names: string[] = [];
    const [l, f, mid] = [get(role.client_last_name), get(role.client_first_name), get(role.client_middle_name)];
    if (l && f) names.push(`${l} ${f}`, `${l} ${f[0]}.${mid ? mid[0] + '.' : ''}`, `${l} ${f[0]}. ${mid ? mid[0] + '.' : ''}`.trim());
    const org = get(role.client_name);
    if (org) names.push(org.replace(/^(ооо|оао|пао|ао|зао|ип|нао)\s+/, ''));
    const plate = get(role.vehicle_plate);
    if (plate) names.push(plate);
    const usable = names.filter((n) => n.length >= 5);
    if (usable.length) index.push({ ref, names: usable });
  }
  return index;
}

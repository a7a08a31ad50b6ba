import type { ParsedMessage } from '../inbound/types.js';
import { parseReplyAddress, parseSubjectTags } from '../text/refs.js';
import type { Intent, OutboxFact, PartyFact, RecordFact, Speaker, Via } from './intent.js';
import { parseStatusReply } from './status-reply.js';
import { partyAddressAllowed } from '../inbound/party-sender.js';
import { approvalIdIn } from '../approvals/reply.js';

// Routing, as a pure function of the parsed message and the facts gathered for it beforehand
// (src/inbound/facts.ts): which record the message is about, who speaks, and what it means — an
// intent. Matching order: In-Reply-To/References against our own Message-IDs, then a reply token
// (plus-address or subject tag), then a bare subject tag, then (staff only) the client's name. A
// bare reference number finds a record but authorises nobody.

export interface RoutingFacts {
  /** Our outbox rows among the message's In-Reply-To/References and its bounce's original Message-ID. */
  ourMessages: Map<string, OutboxFact>;
  /** The records the message names (subject, plus-address) or replies to, by ref, with their parties. */
  records: Map<string, RecordFact>;
  /** The party of `ref` whose token this is, or null. */
  tokenOwner(ref: string, token: string): string | null;
  /** Why tokens the message carries do not count (expired, revoked, forged). */
  tokenProblems?: string[];
  staff: Set<string>;
  /** Whether staff mail passed the configured DKIM/DMARC check (null: no check configured). */
  staffAuthPassed: boolean | null;
  /** What the staff-authentication check found, in one sentence. */
  staffAuthReason?: string | null;
  /** Open records whose client the staff message names (a bank's own reply rarely keeps our tag). */
  nameMatches: string[];
  /** Messages journaled from this sender in the last hour, and the limit — counted apart for mail that
   *  proved it is from our staff and mail that did not (forged mail cannot rate-limit the real sender). */
  senderCount: number;
  senderAuthenticated?: boolean;
  /** DMARC of a party's mail (asked for mail carrying a reply token): quarantine when its domain publishes DMARC and it fails. */
  partyDmarc?: { quarantine: boolean; reason: string } | null;
  /** The statuses declared closed (recordTypes.<type>.final): a closed record takes no documents. */
  finalStatuses?: Record<string, string[]>;
  perSenderPerHour: number;
  /** An earlier journal row with the same Message-ID from the same sender that was applied or answered:
   *  this is a re-delivery. (A quarantined copy does not count: a forged copy sent first must not shut
   *  out the real message.) */
  repeatOf?: number | null;
}

/** A DSN's per-recipient lines (the parse helper adds them; older parses carry only `recipients`). */
interface Delivery { address: string; action: string; status: string | null; diagnostic: string | null }

/** Unauthenticated messages from a staff address answered per hour (the rest are quarantined silently). */
export const UNVERIFIED_ANSWERS = 3;
/** How many candidate records a refusal names at most. */
const MAX_CANDIDATES = 5;
const mb = (n: number) => (n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MB` : `${Math.max(1, Math.round(n / 1024))} KB`);
const domainOf = (a: string) => a.slice(a.lastIndexOf('@') + 1).toLowerCase();
const bare = (a: string) => (/<([^>]+)>/.exec(a)?.[1] ?? a).trim().toLowerCase();

export function route(m: ParsedMessage, facts: RoutingFacts): Intent {
  const from = m.from?.address.toLowerCase() ?? null;
  const none = { record: null, speaker: { kind: 'unknown', address: from } as Speaker, via: null };
  if (m.ours) return { ...none, kind: 'noise', reason: 'our own message came back (X-Dossier-Loop)', facts: ['X-Dossier-Loop header is ours'] };
  // Exactly once by meaning: the same Message-ID from the same sender is one message, whether it was
  // delivered again (one more Received: line) or copied into a second mailbox. Replay is explicit.
  if (facts.repeatOf) return { ...none, kind: 'noise', reason: `a copy of message #${facts.repeatOf} (the same Message-ID from the same sender), already processed`, facts: [`same Message-ID and sender as #${facts.repeatOf}`] };
  if (m.bounce) return routeReport(m, m.bounce, facts, none);
  if (m.auto) return { ...none, kind: 'noise', reason: m.auto === 'list' ? 'mailing-list or bulk mail (Precedence/List-Id)' : 'auto-reply (never answered)', facts: [`auto: ${m.auto}`] };
  if (from && facts.senderCount > facts.perSenderPerHour) {
    const which = facts.senderAuthenticated ? 'authenticated ' : '';
    return { ...none, kind: 'quarantine', reason: `rate limit: ${facts.senderCount} ${which}messages from ${from} in the last hour (limit ${facts.perSenderPerHour})`, facts: [`${facts.senderCount} ${which}messages from ${from} this hour`] };
  }

  // Issue 17: a reply to an approval request goes to its chain, which counts it only from the approver
  // whose turn it is and only when the mail passed the staff-authentication check.
  const approvalId = approvalIdIn(m.subject);
  if (approvalId !== null) {
    const authenticated = facts.staffAuthPassed === true && m.fromCount === 1;
    return { ...none, kind: 'approval-reply', approvalId, authenticated, authReason: facts.staffAuthReason ?? 'not checked', facts: [`subject tag [APR-${approvalId}]`, `from ${from ?? '(none)'}, ${authenticated ? 'authenticated' : 'NOT authenticated'}`] };
  }

  const seen: string[] = [...(facts.tokenProblems ?? [])];
  let ref: string | null = null;
  let via: Via = null;
  for (const id of [m.inReplyTo, ...[...m.references].reverse()]) {
    const hit = id ? facts.ourMessages.get(id) : undefined;
    if (hit?.ref) {
      ref = hit.ref;
      via = 'reply';
      seen.push(`replies to outbox #${hit.id} (${hit.message_id})`);
      break;
    }
  }

  // Tokens: the plus-address we gave as Reply-To, then subject tags.
  const tagged = [
    ...[...m.deliveredTo, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address)].map((a) => parseReplyAddress(a)).filter((x): x is { ref: string; token: string } => x !== null),
    ...parseSubjectTags(m.subject).filter((t): t is { ref: string; token: string } => Boolean(t.token)),
  ];
  let tokenParty: string | null = null;
  for (const t of tagged) {
    if ((ref && t.ref !== ref) || !facts.records.has(t.ref)) continue;
    const owner = facts.tokenOwner(t.ref, t.token);
    if (owner) {
      tokenParty = owner;
      seen.push(`reply token of ${owner} for ${t.ref}`);
      if (!ref) {
        ref = t.ref;
        via = 'token';
      }
      break;
    }
  }

  const named = parseSubjectTags(m.subject).map((t) => t.ref);
  const unknownRefs = named.filter((r) => !facts.records.has(r));
  if (!ref) {
    const known = [...new Set(named.filter((r) => facts.records.has(r)))];
    if (known.length === 1) {
      ref = known[0]!;
      via = 'subject';
      seen.push(`subject tag ${ref}`);
    }
  }
  if (!ref) {
    // A forwarded bank mail whose own subject carries our tag ("Re: [DL-2026-01005 ljsqp4]").
    const known = [...new Set(parseSubjectTags(m.forwarded?.subject ?? '').map((t) => t.ref).filter((r) => facts.records.has(r)))];
    if (known.length === 1) {
      ref = known[0]!;
      via = 'subject';
      seen.push(`subject tag ${ref} of the forwarded mail`);
    }
  }

  const isStaff = from !== null && facts.staff.has(from);
  let ambiguousNames: string[] = [];
  if (!ref && isStaff) {
    if (facts.nameMatches.length === 1) {
      ref = facts.nameMatches[0]!;
      via = 'name';
      seen.push(`the client's name of ${ref}`);
    } else if (facts.nameMatches.length > 1) {
      // A handful to show, never a list of every record: the count says the rest.
      ambiguousNames = facts.nameMatches.slice(0, MAX_CANDIDATES);
      if (facts.nameMatches.length > MAX_CANDIDATES) ambiguousNames.push(`… ${facts.nameMatches.length - MAX_CANDIDATES} more`);
    }
  }
  const record = ref ? (facts.records.get(ref) ?? null) : null;

  let speaker: Speaker;
  if (m.fromCount > 1) {
    // Several From addresses (or From headers): whoever else is named, nobody is authorised by it.
    speaker = { kind: 'unknown', address: from };
    seen.push(`${m.fromCount} From addresses (${m.fromAddresses.map((a) => a.address).join(', ')}): none of them is trusted`);
  } else if (isStaff && from) {
    speaker = { kind: 'staff', address: from, verified: facts.staffAuthPassed !== false };
    seen.push(`from staff address ${from}${facts.staffAuthPassed === null ? '' : facts.staffAuthPassed ? ', authenticated' : ', NOT authenticated'}`);
  } else if (tokenParty && from) {
    // The token must be used by its party: one of its own addresses, or a domain it declared as its
    // own (never a public provider's) — a copy of the token forwarded elsewhere authorises nobody.
    const party = record?.parties.find((p) => p.key === tokenParty);
    speaker = party && partyAddressAllowed({ emails: party.emails, domains: party.domains ?? [] }, from) ? { kind: 'party', party: tokenParty, address: from } : { kind: 'unknown', address: from, claimedParty: tokenParty };
  } else {
    speaker = { kind: 'unknown', address: from };
  }
  const base = { record, speaker, via, facts: seen };

  // Over maxMessageBytes only the headers were read: nothing is applied. A sender we know (verified
  // staff, a party using its own token) is told why; anyone else is not answered.
  if (m.tooLarge) {
    const reason = `the message is ${mb(m.tooLarge.size)}, over the ${mb(m.tooLarge.limit)} limit (intake.limits.maxMessageBytes): not read`;
    const known = (speaker.kind === 'staff' && speaker.verified) || speaker.kind === 'party';
    if (known) return { ...base, kind: 'refusal', outcome: 'quarantined', problem: { code: 'too-large', size: m.tooLarge.size, limit: m.tooLarge.limit }, reason: `${reason}; the sender was told` };
    return { ...base, kind: 'quarantine', reason: `${reason}; from ${from ?? 'an unknown sender'}, not answered` };
  }

  if (speaker.kind === 'staff') {
    if (!speaker.verified) {
      // Whoever forges our address must not make us mail the real person a refusal for each forgery.
      if (facts.senderCount > UNVERIFIED_ANSWERS) {
        return { ...base, kind: 'quarantine', reason: `mail from staff address ${from} without a passing DKIM/DMARC result: ${facts.staffAuthReason ?? 'no check passed'}; not answered (${facts.senderCount} unauthenticated messages from it this hour, at most ${UNVERIFIED_ANSWERS} are answered)` };
      }
      return { ...base, kind: 'refusal', outcome: 'quarantined', problem: { code: 'staff-unverified', address: speaker.address }, reason: `mail from staff address ${from} without a passing DKIM/DMARC result: ${facts.staffAuthReason ?? 'no check passed'}` };
    }
    const cmd = parseStatusReply(m.ownText);
    if (cmd.kind === 'none') {
      if (!record) return { ...base, kind: 'noise', reason: 'staff message without a command or a record reference' };
      return { ...base, kind: 'staff-note', record };
    }
    if (cmd.kind === 'ambiguous') return { ...base, kind: 'refusal', outcome: 'refused', problem: { code: 'ambiguous', detail: cmd.reason }, reason: `the command is ambiguous: ${cmd.reason}` };
    if (!record) {
      const reason = ambiguousNames.length
        ? `the client's name matches several records (${ambiguousNames.join(', ')})`
        : unknownRefs.length
          ? `there is no record ${unknownRefs.join(', ')}`
          : 'no record found: neither a reference like [DL-2026-00042] nor a client name Dossier knows';
      return { ...base, kind: 'refusal', outcome: 'refused', problem: { code: 'no-record', ambiguousNames, unknownRefs }, reason };
    }
    const party = decidingParty(m, record, tokenParty, facts, seen);
    if (!party) {
      const fw = m.forwarded?.from?.address ?? null;
      const reason = `not applied: ${fw ? `the forwarded mail is from ${fw}, which is not a recipient of ${record.ref}` : 'no forwarded bank or insurer mail was found to tell whose decision this is'}`;
      return { ...base, kind: 'refusal', outcome: 'refused', problem: { code: 'no-deciding-party', ref: record.ref, forwardedFrom: fw, recipients: record.parties.filter((p) => p.role === 'recipient').map((p) => p.key) }, reason };
    }
    return { ...base, kind: 'staff-decision', record, command: cmd.command, party };
  }
  if (speaker.kind === 'party' && record) {
    // The party's domain publishes DMARC and this message fails it: someone else wrote it (not answered).
    if (facts.partyDmarc?.quarantine) return { ...base, kind: 'quarantine', reason: `mail in the name of ${speaker.party} fails its domain's DMARC: ${facts.partyDmarc.reason}` };
    if (facts.finalStatuses?.[record.type]?.includes(record.status)) {
      return { ...base, kind: 'refusal', outcome: 'refused', problem: { code: 'closed-record', ref: record.ref, status: record.status }, reason: `${record.ref} is closed (${record.status}): documents from ${speaker.party} not taken; the sender was told` };
    }
    return { ...base, kind: 'party-documents', record, party: record.parties.find((p) => p.key === speaker.party)! };
  }
  if (speaker.kind === 'unknown' && speaker.claimedParty) {
    return { ...base, kind: 'quarantine', reason: `the reply token of ${speaker.claimedParty} was used from ${from ?? 'an unknown address'}, which is not theirs` };
  }
  if (m.fromCount > 1) return { ...base, kind: 'quarantine', reason: `the message names ${m.fromCount} senders (${m.fromAddresses.map((a) => a.address).join(', ')}): several From addresses never authorise anything` };
  if (m.outlookMsg === 'message') return { ...base, kind: 'quarantine', reason: 'an Outlook .msg file, not an email: save it from Outlook as .eml (or forward the message) and send that' };
  if (record) return { ...base, kind: 'quarantine', reason: `unknown sender ${from ?? '(none)'}: a reference number alone authorises nothing` };
  return { ...base, kind: 'quarantine', reason: `unknown sender ${from ?? '(none)'} and no record found` };
}

/** Bounces and other delivery reports: which outbox row, and whether the report may change it. */
function routeReport(m: ParsedMessage, b: NonNullable<ParsedMessage['bounce']>, facts: RoutingFacts, none: { record: null; speaker: Speaker; via: Via }): Intent {
  const o = b.originalMessageId ? facts.ourMessages.get(b.originalMessageId) : undefined;
  if (!o) return { ...none, kind: 'noise', reason: `bounce for a message we did not send${b.originalMessageId ? ` (${b.originalMessageId})` : ''}`, facts: ['the report names no Message-ID of ours'] };
  const record = o.ref ? (facts.records.get(o.ref) ?? null) : null;
  const base = { ...none, record, facts: [`report about outbox #${o.id} (${o.message_id})`] };
  const deliveries = ((b as { deliveries?: Delivery[] }).deliveries ?? []).map((d) => ({ ...d, address: bare(d.address) }));
  const failed = deliveries.length ? deliveries.filter((d) => d.action === 'failed').map((d) => d.address) : b.recipients.map(bare);
  const named = deliveries.length ? deliveries.map((d) => d.address) : failed;
  // Whoever has our message knows its Message-ID; a report that names recipients the message was
  // not sent to is not a mail server's, and changes nothing.
  const ours = new Set(o.to_addresses.map(bare));
  const strangers = named.filter((r) => !ours.has(r));
  if (strangers.length) return { ...base, kind: 'quarantine', reason: `bounce report for outbox #${o.id} names ${strangers.join(', ')}, to whom that message was not sent` };
  const why = (d?: Delivery) => [d?.status ?? b.status, d?.diagnostic ?? b.diagnostic].filter(Boolean).join(' ');
  if (failed.length || !deliveries.length) {
    const first = deliveries.find((d) => d.action === 'failed');
    return { ...base, kind: 'bounce', outbox: o, recipients: failed, why: why(first) || 'bounced' };
  }
  const delayed = deliveries.filter((d) => d.action === 'delayed');
  if (delayed.length) return { ...base, kind: 'delivery-status', outbox: o, action: 'delayed', recipients: delayed.map((d) => d.address), why: why(delayed[0]) || 'delayed' };
  const delivered = deliveries.filter((d) => d.action !== 'delayed');
  return { ...base, kind: 'delivery-status', outbox: o, action: 'delivered', recipients: delivered.map((d) => d.address), why: why(delivered[0]) || delivered[0]!.action };
}

/** Which recipient (bank, insurer) a forwarded decision is from. */
function decidingParty(m: ParsedMessage, record: RecordFact, tokenParty: string | null, facts: RoutingFacts, seen: string[]): PartyFact | null {
  const recipients = record.parties.filter((p) => p.role === 'recipient');
  const fw = m.forwarded;
  // 1. The bank replied to our package: its token is in the forwarded subject.
  for (const t of parseSubjectTags(fw?.subject ?? '')) {
    if (t.ref !== record.ref || !t.token) continue;
    const owner = facts.tokenOwner(record.ref, t.token);
    const p = recipients.find((x) => x.key === owner);
    if (p) {
      seen.push(`the forwarded subject carries ${p.key}'s token`);
      return p;
    }
  }
  // 2. The forwarded mail came from one of the recipient's addresses, or its mail domain.
  const from = fw?.from?.address.toLowerCase();
  if (from) {
    const exact = recipients.find((p) => p.emails.includes(from));
    if (exact) {
      seen.push(`the forwarded mail is from ${exact.key} (${from})`);
      return exact;
    }
    const domain = from.slice(from.lastIndexOf('@') + 1);
    const same = recipients.filter((p) => p.emails.some((e) => e.endsWith('@' + domain)));
    if (same.length === 1) {
      seen.push(`the forwarded mail is from ${same[0]!.key}'s domain (${domain})`);
      return same[0]!;
    }
  }
  // 3. The manager replied within the thread of the package sent to one recipient.
  const p = tokenParty ? (recipients.find((x) => x.key === tokenParty) ?? null) : null;
  if (p) seen.push(`the thread of ${p.key}'s package`);
  return p;
}

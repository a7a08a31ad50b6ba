import type { ParsedMessage } from '../inbound/types.js';
import { parseReplyAddress, parseSubjectTags } from '../outbound/tokens.js';

// Routing, as a pure function of the parsed message and facts looked up beforehand: which record
// the message is about, and who is speaking. Matching order: In-Reply-To/References against our own
// Message-IDs, then a reply token (plus-address or subject tag), then a bare subject tag. A bare
// reference number finds a record but authorises nobody.

export interface RoutingFacts {
  /** Our outbox Message-IDs found among the message's In-Reply-To/References: the record and party each went to. */
  ourMessages: Map<string, { ref: string; party: string | null }>;
  /** Records that exist, of the refs the message names. */
  records: Set<string>;
  /** The party of `ref` whose token this is, or null. */
  tokenOwner(ref: string, token: string): string | null;
  /** The party's addresses (lower case), to check that a token is used by its party. */
  partyEmails(party: string): string[];
  staff: Set<string>;
  /** Whether staff mail passed the configured DKIM/DMARC check (null: no check configured). */
  staffAuthPassed: boolean | null;
  /** Open records whose client (borrower, insured) the staff message names: a bank's own reply
   * forwarded by a manager rarely keeps our tag, but always names the client. */
  nameMatches: string[];
}

export type Speaker =
  | { kind: 'staff'; address: string; verified: boolean }
  | { kind: 'party'; party: string; address: string }
  | { kind: 'unknown'; address: string | null; claimedParty?: string };

export interface Route {
  ref: string | null;
  via: 'reply' | 'token' | 'subject' | 'name' | null;
  speaker: Speaker;
  /** A token found on the message (plus-address or subject), verified for `ref`. */
  tokenParty: string | null;
  /** Refs named in the subject that do not exist. */
  unknownRefs: string[];
  /** Several records match the client's name (staff mail without a tag). */
  ambiguousNames: string[];
}

const domainOf = (a: string) => a.slice(a.lastIndexOf('@') + 1).toLowerCase();

export function route(m: ParsedMessage, facts: RoutingFacts): Route {
  const from = m.from?.address.toLowerCase() ?? null;
  let ref: string | null = null;
  let via: Route['via'] = null;

  for (const id of [m.inReplyTo, ...[...m.references].reverse()]) {
    const hit = id ? facts.ourMessages.get(id) : undefined;
    if (hit) {
      ref = hit.ref;
      via = 'reply';
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
    if (ref && t.ref !== ref) continue;
    if (!facts.records.has(t.ref)) continue;
    const owner = facts.tokenOwner(t.ref, t.token);
    if (owner) {
      tokenParty = owner;
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
    }
  }

  const isStaff = from !== null && facts.staff.has(from);
  let ambiguousNames: string[] = [];
  if (!ref && isStaff) {
    if (facts.nameMatches.length === 1) {
      ref = facts.nameMatches[0]!;
      via = 'name';
    } else if (facts.nameMatches.length > 1) ambiguousNames = facts.nameMatches;
  }

  let speaker: Speaker;
  if (isStaff && from) {
    speaker = { kind: 'staff', address: from, verified: facts.staffAuthPassed !== false };
  } else if (tokenParty && from) {
    // The token must be used by its party: one of its addresses, or the same mail domain.
    const known = facts.partyEmails(tokenParty);
    speaker = known.includes(from) || known.some((a) => domainOf(a) === domainOf(from)) ? { kind: 'party', party: tokenParty, address: from } : { kind: 'unknown', address: from, claimedParty: tokenParty };
  } else {
    speaker = { kind: 'unknown', address: from };
  }
  return { ref, via, speaker, tokenParty, unknownRefs, ambiguousNames };
}

import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import type { TokenSecrets } from '../outbound/settings.js';
import { checkReplyToken, type TokenCheck } from '../outbound/tokens.js';
import { parseReplyAddress, parseSubjectTags } from '../text/refs.js';
import { partyDmarc, type PartyDmarcVerdict } from './party-sender.js';
import { staffAuthentication, type DnsResolver, type StaffAuthVerdict } from './verify.js';
import type { ParsedMessage } from './types.js';

// The one place intake asks whether a reply token is a party's and whether staff mail is really
// from our staff (tokens.ts and verify.ts decide how).

/** Every (ref, token) the message carries: plus-addresses, its subject's tags, the forwarded subject's. */
function tokensCarried(m: ParsedMessage): { ref: string; token: string }[] {
  const addresses = [...m.deliveredTo, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address)];
  const tags = [...parseSubjectTags(m.subject), ...parseSubjectTags(m.forwarded?.subject ?? '')];
  return [
    ...addresses.map((a) => parseReplyAddress(a)).filter((x): x is { ref: string; token: string } => x !== null),
    ...tags.filter((t): t is { ref: string; token: string } => Boolean(t.token)),
  ];
}

export interface TokenFacts {
  /** The party of `ref` whose live token this is (not expired, not revoked), or null. */
  owner(ref: string, token: string): string | null;
  /** Why a token the message carries does not count (expired, revoked, forged), for the journal. */
  problems: string[];
}

/** Checks each token the message carries once, against reply_tokens (generations, expiry, revocation). */
export async function tokenFacts(app: App, q: Queryable, secrets: TokenSecrets, m: ParsedMessage, knownRefs: Set<string>): Promise<TokenFacts> {
  const checks = new Map<string, TokenCheck>();
  for (const t of tokensCarried(m)) {
    const key = `${t.ref}|${t.token}`;
    if (checks.has(key) || !knownRefs.has(t.ref)) continue;
    checks.set(key, await checkReplyToken(q, secrets, t.ref, t.token, { days: app.config.mail.tokenDays }));
  }
  return {
    owner: (ref, token) => {
      const c = checks.get(`${ref}|${token}`);
      return c?.status === 'ok' ? c.partyKey : null;
    },
    problems: [...checks.values()].filter((c) => c.status !== 'ok').map((c) => `reply token ${c.status}: ${c.reason}`),
  };
}

/**
 * DMARC of an outside party's mail, asked before the transaction (it may wait on DNS) — only for a
 * message that carries a reply token and is not from staff: the only mail a party's word counts in.
 */
export function partyCheck(app: App, raw: Buffer, m: ParsedMessage, resolver?: DnsResolver): Promise<PartyDmarcVerdict> | null {
  return tokensCarried(m).length ? partyDmarc(app, raw, resolver) : null;
}

/** The verdict on mail from a staff address; asked before the transaction (a DKIM check may wait on DNS). */
export function staffCheck(app: App, raw: Buffer, m: ParsedMessage, resolver?: DnsResolver): Promise<StaffAuthVerdict> {
  return staffAuthentication(app, raw, m, resolver);
}

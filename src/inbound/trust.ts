import type { App } from '../app.js';
import { verifyToken } from '../outbound/tokens.js';
import type { RecordFact } from '../routing/intent.js';
import { staffVerified, type DnsResolver } from './verify.js';
import type { ParsedMessage } from './types.js';

// The one place intake asks whether a reply token is a party's and whether staff mail is really
// from our staff (tokens.ts and verify.ts decide; their owners may change how).

/** tokenOwner(ref, token): the key of the party of `ref` whose token this is, or null. */
export function tokenChecker(secret: string, records: Map<string, RecordFact>): (ref: string, token: string) => string | null {
  return (ref, token) => records.get(ref)?.parties.find((p) => verifyToken(secret, ref, p.key, token))?.key ?? null;
}

/** null when no check is configured; asked before the transaction (mailauth may wait on DNS). */
export function staffCheck(app: App, raw: Buffer, m: ParsedMessage, resolver?: DnsResolver): Promise<boolean | null> {
  return staffVerified(app, raw, m, resolver);
}

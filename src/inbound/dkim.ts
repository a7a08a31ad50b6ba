import { createRequire } from 'node:module';
import { getDomain } from 'tldts';

// DKIM and DMARC checked inside Dossier with mailauth (postalsys; the library Zone-MTA and
// WildDuck verify with), so that no header a sender can write is needed. What is read from its
// answer, and why:
// - a signature counts only when it covers the whole body: mailauth reports a pass for a signature
//   with l= and content appended after the signed part ("underSized"), and its DMARC counts that
//   pass too; Dossier does not (RFC 6376 §8.2: the appended part could be anything);
// - alignment (RFC 7489 §3.1) is computed here: relaxed (same organisational domain, by the Public
//   Suffix List through tldts, which mailauth itself uses) unless the domain's DMARC record says
//   adkim=s;
// - SPF is not known here (Dossier does not see the connecting IP), so DMARC can only pass through
//   DKIM: a domain that signs nothing fails DMARC when read this way.

/** A DNS lookup as mailauth calls it: (name, 'TXT') → string[][]; the system resolver when not given. */
export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;

export interface DkimSignatureCheck {
  domain: string;
  selector: string;
  /** pass, fail, neutral, temperror, policy, none */
  result: string;
  comment?: string;
  /** false when the signature (l=) leaves part of the body unsigned. */
  wholeBody: boolean;
}

export interface DmarcCheck {
  /** pass, fail, none (no record), temperror */
  result: string;
  /** The organisational domain whose record was read. */
  domain: string;
  policy?: string;
  strict: boolean;
}

export interface MessageAuthCheck {
  /** Every address of every From header, as mailauth read them. */
  from: string[];
  signatures: DkimSignatureCheck[];
  /** null when there was not exactly one From address (DMARC is then undefined). */
  dmarc: DmarcCheck | null;
  /** The signatures that pass, cover the whole body and align with the single From domain (strict when DMARC says adkim=s). */
  aligned: DkimSignatureCheck[];
}

interface MailauthDkim {
  signingDomain?: string;
  selector?: string;
  status?: { result?: string; comment?: string; underSized?: number };
  canonBodyLengthLimited?: boolean;
}
interface MailauthResult {
  dkim?: { results?: MailauthDkim[]; headerFrom?: string[] };
  dmarc?: { status?: { result?: string }; domain?: string; policy?: string; alignment?: { dkim?: { strict?: boolean } } } | false;
}

const require = createRequire(import.meta.url);

export function organisationalDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  return getDomain(d, { allowPrivateDomains: true }) ?? d;
}

/** DMARC identifier alignment of two domains (RFC 7489 §3.1): same domain (strict) or same organisational domain (relaxed). */
export function domainsAlign(a: string, b: string, strict = false): boolean {
  const x = a.trim().toLowerCase().replace(/\.$/, '');
  const y = b.trim().toLowerCase().replace(/\.$/, '');
  if (!x || !y) return false;
  return strict ? x === y : organisationalDomain(x) === organisationalDomain(y);
}

export const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).trim().toLowerCase();

/** Verifies every DKIM signature of the message and evaluates DMARC for its From domain. Network errors become temperror results, never a pass. */
export async function checkMessageAuth(raw: Buffer, resolver?: DnsResolver): Promise<MessageAuthCheck> {
  const { authenticate } = require('mailauth') as { authenticate(msg: Buffer, o: Record<string, unknown>): Promise<MailauthResult> };
  // mta only names the (unused) header mailauth writes; ARC and BIMI are not needed here.
  const r = await authenticate(raw, { mta: 'dossier.invalid', disableArc: true, disableBimi: true, ...(resolver ? { resolver } : {}) });
  const from = r.dkim?.headerFrom ?? [];
  const signatures: DkimSignatureCheck[] = (r.dkim?.results ?? [])
    .filter((s) => s.signingDomain)
    .map((s) => ({
      domain: s.signingDomain!.toLowerCase(),
      selector: s.selector ?? '',
      result: s.status?.result ?? 'none',
      ...(s.status?.comment ? { comment: s.status.comment } : {}),
      wholeBody: !s.status?.underSized,
    }));
  const dmarc: DmarcCheck | null =
    from.length === 1 && r.dmarc
      ? {
          result: r.dmarc.status?.result ?? 'none',
          domain: r.dmarc.domain ?? organisationalDomain(domainOf(from[0]!)),
          ...(r.dmarc.policy ? { policy: r.dmarc.policy } : {}),
          strict: Boolean(r.dmarc.alignment?.dkim?.strict),
        }
      : null;
  const fromDomain = from.length === 1 ? domainOf(from[0]!) : '';
  const aligned = fromDomain ? signatures.filter((s) => s.result === 'pass' && s.wholeBody && domainsAlign(s.domain, fromDomain, dmarc?.strict)) : [];
  // DMARC as Dossier reads it: mailauth's verdict, except that an unsigned tail voids the pass.
  if (dmarc?.result === 'pass' && !aligned.length) dmarc.result = 'fail';
  return { from, signatures, dmarc, aligned };
}

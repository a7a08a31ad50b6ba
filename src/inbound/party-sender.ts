import type { Config } from '../config/schema.js';
import { authServIdOf, parseAuthResults, prop } from './auth-results.js';
import { checkMessageAuth, domainOf, domainsAlign, organisationalDomain, type DnsResolver } from './dkim.js';
import { headerFields, receivedBy, singleFrom } from './verify.js';

// Who may speak for an outside party (a lawyer, a bank): its exact addresses by default. A party
// may also list its own mail domains (parties.domains) — a law firm's whole domain — but never a
// public mail provider's: "any sender at mail.ru" is anyone at all (issue 13: a forged decision
// came from a free mailbox at the party's "domain"). And when the party's domain publishes DMARC
// and the message fails it, the message is quarantined, whatever token or address it carries.

/**
 * Domains where anyone can open a mailbox. Matched by organisational domain, so subdomains
 * (e.g. "mail.yandex.ru") count too. Not exhaustive: a domain missing here is only as safe as the
 * party that listed it; exact addresses are always the safe default.
 */
export const PUBLIC_MAIL_PROVIDERS: readonly string[] = [
  // Russian-speaking providers the parties of Dossier use most
  'mail.ru', 'bk.ru', 'list.ru', 'inbox.ru', 'internet.ru', 'xmail.ru',
  'yandex.ru', 'yandex.com', 'ya.ru', 'yandex.by', 'yandex.kz', 'yandex.ua', 'narod.ru',
  'rambler.ru', 'lenta.ru', 'autorambler.ru', 'myrambler.ru', 'ro.ru', 'rambler.ua',
  // International
  'gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'outlook.ru', 'hotmail.ru',
  'yahoo.com', 'ymail.com', 'rocketmail.com', 'icloud.com', 'me.com', 'mac.com', 'aol.com',
  'proton.me', 'protonmail.com', 'pm.me', 'tutanota.com', 'tuta.io', 'gmx.com', 'gmx.net', 'gmx.de', 'web.de',
  'zoho.com', 'yahoo.co.uk', 'hotmail.co.uk', 'mail.com', 'fastmail.com', 'hey.com', 'qq.com', '163.com',
];

const PUBLIC = new Set(PUBLIC_MAIL_PROVIDERS);

/** True for a public provider's domain or any of its subdomains. */
export function isPublicMailDomain(domain: string): boolean {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  return PUBLIC.has(d) || PUBLIC.has(organisationalDomain(d));
}

/** What is wrong with domains a party lists as its own (for party import/edit to report): [] when fine. */
export function partyDomainProblems(domains: string[]): string[] {
  const problems: string[] = [];
  for (const raw of domains) {
    const d = raw.trim().toLowerCase();
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(d)) problems.push(`"${raw}" is not a domain name`);
    else if (isPublicMailDomain(d)) problems.push(`"${raw}" is a public mail provider: anyone can have an address there; list the party's exact addresses instead`);
    else if (organisationalDomain(d) !== d && !d.endsWith('.' + organisationalDomain(d))) problems.push(`"${raw}" is not a registrable domain`);
  }
  return problems;
}

export interface PartyAddresses {
  emails: readonly string[];
  /** The party's own mail domains (parties.domains); empty: exact addresses only. */
  domains?: readonly string[] | null;
}

/** May mail from this address speak for the party? Exact address, or a listed own domain that is not a public provider's. */
export function partyAddressAllowed(party: PartyAddresses, address: string): boolean {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) return false;
  if (party.emails.some((e) => e.trim().toLowerCase() === a)) return true;
  const domain = domainOf(a);
  if (isPublicMailDomain(domain)) return false;
  // The domain itself, not its subdomains: "firm.example" does not vouch for "anything.firm.example".
  return (party.domains ?? []).some((d) => d.trim().toLowerCase().replace(/\.$/, '') === domain && !isPublicMailDomain(d));
}

export interface PartyDmarcVerdict {
  /** pass, fail, none (the domain publishes no DMARC), temperror (DNS), unknown (no single From, no trusted result) */
  result: 'pass' | 'fail' | 'none' | 'temperror' | 'unknown';
  /** Quarantine the message: the domain publishes DMARC and the message fails it. */
  quarantine: boolean;
  domain: string | null;
  reason: string;
}

/**
 * DMARC for the domain of the message's From (call it for mail from an outside party). In mode mta
 * our MTA's trusted Authentication-Results say (it also knows SPF); in mode dkim Dossier evaluates
 * it with mailauth from DKIM alone — a domain that relies on SPF only then fails and is quarantined
 * for a person to look at, the safe side. Several From addresses are quarantined too.
 */
export async function partyDmarc(app: { config: Pick<Config, 'intake'>; dnsResolver?: DnsResolver | undefined }, raw: Buffer, resolver: DnsResolver | undefined = app.dnsResolver): Promise<PartyDmarcVerdict> {
  const fields = headerFields(raw);
  const from = singleFrom(fields);
  if (!from.ok) return { result: 'unknown', quarantine: true, domain: null, reason: `${from.reason}: the sender cannot be checked` };
  const domain = organisationalDomain(domainOf(from.address));
  const s = app.config.intake.staffAuth;
  if (s.mode === 'mta') {
    const received = fields.findIndex((f) => f.name === 'received' && receivedBy(f.value) === s.mtaHostname?.toLowerCase());
    const ar = fields.findIndex((f) => f.name === 'authentication-results' && (authServIdOf(f.value) ?? '').toLowerCase() === s.trustedAuthServId?.toLowerCase());
    if (!s.mtaHostname || !s.trustedAuthServId || received < 0 || ar < 0 || ar > received) {
      return { result: 'unknown', quarantine: false, domain, reason: 'no DMARC result from our MTA' };
    }
    let dmarc;
    try {
      dmarc = parseAuthResults(fields[ar]!.value).results.filter((r) => r.method === 'dmarc' && domainsAlign(prop(r, 'header.from') ?? '', domain));
    } catch (err) {
      return { result: 'unknown', quarantine: false, domain, reason: `our MTA's Authentication-Results cannot be read (${(err as Error).message})` };
    }
    if (!dmarc.length) return { result: 'unknown', quarantine: false, domain, reason: `our MTA gives no DMARC result for ${domain}` };
    const failed = dmarc.find((r) => r.result !== 'pass' && r.result !== 'none' && r.result !== 'temperror');
    if (failed) return { result: 'fail', quarantine: true, domain, reason: `${domain} publishes DMARC and the message fails it (our MTA: dmarc=${failed.result})` };
    const r = dmarc[0]!.result as 'pass' | 'none' | 'temperror';
    return { result: r, quarantine: false, domain, reason: `our MTA: dmarc=${r} for ${domain}` };
  }
  let check;
  try {
    check = await checkMessageAuth(raw, resolver);
  } catch (err) {
    return { result: 'temperror', quarantine: false, domain, reason: `DMARC could not be checked: ${(err as Error).message}` };
  }
  const d = check.dmarc;
  if (!d) return { result: 'unknown', quarantine: true, domain, reason: 'the From header reads differently to the DMARC check' };
  if (d.result === 'fail') return { result: 'fail', quarantine: true, domain: d.domain, reason: `${d.domain} publishes DMARC (p=${d.policy ?? '?'}) and the message fails it: no valid DKIM signature by ${d.domain} covering the whole message` };
  if (d.result === 'pass') return { result: 'pass', quarantine: false, domain: d.domain, reason: `DMARC pass for ${d.domain}` };
  if (d.result === 'temperror') return { result: 'temperror', quarantine: false, domain: d.domain, reason: `DMARC for ${d.domain} could not be looked up (DNS)` };
  return { result: 'none', quarantine: false, domain: d.domain, reason: `${d.domain} publishes no DMARC policy` };
}

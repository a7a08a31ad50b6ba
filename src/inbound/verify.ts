import { createRequire } from 'node:module';
import type { App } from '../app.js';
import type { ParsedMessage } from './types.js';

// Is a message from a staff address really from our staff? Either our own MTA says so in its
// Authentication-Results (only its authserv-id, in the topmost header bearing it, is trusted: a
// sender can write any header), or — with staffAuth: mailauth — Dossier verifies the DKIM
// signature itself with mailauth. In both, DMARC pass
// counts, and DKIM pass only for the From address's own domain (a signature by another domain proves
// nothing about who wrote From).

export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;

interface MailauthResult {
  dkim?: { results?: { signingDomain?: string; status?: { result?: string } }[] };
  dmarc?: { status?: { result?: string } } | false;
}

const require = createRequire(import.meta.url);

const domainsOf = (address: string) => {
  const d = address.toLowerCase().split('@')[1] ?? '';
  const parts = d.split('.');
  return parts.map((_, i) => parts.slice(i).join('.')).filter((x) => x.includes('.'));
};

function fromAuthResults(app: App, m: ParsedMessage): boolean {
  const id = app.config.intake.trustedAuthServId?.toLowerCase();
  if (!id) return false;
  const domains = domainsOf(m.from?.address ?? '');
  // Only the topmost header with our authserv-id: our MTA prepends its verdict, so any such header
  // below it was already in the message when it arrived — written by the sender, whatever it says
  // (found by the hostile-mail corpus: a forged "dmarc=pass" under our MTA's "dmarc=fail" was applied).
  const ours = m.authResults.find((h) => h.trim().toLowerCase().split(/[\s;]/, 1)[0] === id);
  if (!ours) return false;
  return ours
    .split(';')
    .map((r) => r.trim().toLowerCase())
    .some((r) => /^dmarc=pass\b/.test(r) || (/^dkim=pass\b/.test(r) && domains.includes(/header\.d=([^\s;]+)/.exec(r)?.[1] ?? '-')));
}

async function fromMailauth(app: App, raw: Buffer, m: ParsedMessage, resolver?: DnsResolver): Promise<boolean> {
  const { authenticate } = require('mailauth') as { authenticate(msg: Buffer, o: Record<string, unknown>): Promise<MailauthResult> };
  const r = await authenticate(raw, { mta: app.config.mail.domain, disableArc: true, disableBimi: true, ...(resolver ? { resolver } : {}) });
  const domains = domainsOf(m.from?.address ?? '');
  if (r.dmarc && r.dmarc.status?.result === 'pass') return true;
  return (r.dkim?.results ?? []).some((d) => d.status?.result === 'pass' && domains.includes((d.signingDomain ?? '').toLowerCase()));
}

/** null when no check is configured. */
export async function staffVerified(app: App, raw: Buffer, m: ParsedMessage, resolver?: DnsResolver): Promise<boolean | null> {
  switch (app.config.intake.staffAuth) {
    case 'none':
      return null;
    case 'authentication-results':
      return fromAuthResults(app, m);
    case 'mailauth':
      return fromMailauth(app, raw, m, resolver).catch(() => false);
  }
}

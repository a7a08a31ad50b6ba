import addressparser from 'nodemailer/lib/addressparser';
import type { App } from '../app.js';
import type { Config } from '../config/schema.js';
import { AuthResultsSyntaxError, authServIdOf, parseAuthResults, prop, type AuthResult } from './auth-results.js';
import { checkMessageAuth, domainOf, domainsAlign, type DnsResolver } from './dkim.js';
import type { ParsedMessage } from './types.js';
import { normalizeStart } from './parse/envelope.js';

export type { DnsResolver } from './dkim.js';

// Is a message from a staff address really from our staff? Every header a sender writes may be a
// lie, so only two things vouch for it (intake.staffAuth.mode):
// - dkim (the default): Dossier verifies the DKIM signature itself (src/inbound/dkim.ts). A pass
//   counts only for a signature by the From address's own organisational domain that covers the
//   whole body.
// - mta: our own MTA's verdict in Authentication-Results. Only the topmost such header bearing our
//   authserv-id is read (the MTA prepends its own; any below it came with the message), and only
//   when it stands above a Received: that our MTA (mtaHostname) added — a message that never
//   passed through our MTA (a file dropped in the Maildir, `mail ingest`) carries no trusted
//   result at all. It must say dmarc=pass, or dkim=pass, for a domain aligned with From.
// In both, the message must have exactly one From header with exactly one address: DKIM signs
// one From, DMARC is undefined for several, and a second address is a second author we know
// nothing about.

export type StaffAuthMethod = 'dkim' | 'mta';

export interface StaffAuthVerdict {
  ok: boolean;
  /** One sentence for the journal and the refusal: what passed, or what was missing. */
  reason: string;
  method: StaffAuthMethod;
  /** The From address that was checked, when there was exactly one. */
  from?: string;
}

export interface HeaderField {
  /** lower-cased */
  name: string;
  /** unfolded, CR/LF removed */
  value: string;
}

/** The header fields of a raw message, top to bottom, folded lines joined. */
export function headerFields(raw: Buffer): HeaderField[] {
  // The same repairs the parser makes (a BOM, an mbox "From " line, CR-only line ends), so that the
  // headers verified are the headers routed.
  const text = normalizeStart(raw, () => {}).toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = end < 0 ? text : text.slice(0, end);
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      const last = fields.at(-1);
      if (last) last.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a header field (an mbox "From " line, garbage)
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

type FromCheck = { ok: true; address: string } | { ok: false; reason: string };

/** Exactly one From header with exactly one address, or why not. */
export function singleFrom(fields: HeaderField[]): FromCheck {
  const froms = fields.filter((f) => f.name === 'from');
  if (froms.length === 0) return { ok: false, reason: 'the message has no From header' };
  if (froms.length > 1) return { ok: false, reason: `the message has ${froms.length} From headers` };
  const addresses = addressparser(froms[0]!.value, { flatten: true }).filter((a) => a.address);
  if (addresses.length !== 1) return { ok: false, reason: addresses.length ? `the From header names ${addresses.length} addresses` : 'the From header has no address' };
  const address = addresses[0]!.address.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) return { ok: false, reason: `the From address ${JSON.stringify(address)} is not an address` };
  return { ok: true, address };
}

/** The host in the "by" clause of a Received header (comments and quoted text removed), lower-cased. */
export function receivedBy(value: string): string | null {
  let plain = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (quoted) quoted = c !== '"';
    else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) plain += c;
  }
  const semi = plain.lastIndexOf(';'); // the date follows the last ";"
  const m = /(?:^|\s)by\s+([^\s;]+)/i.exec(semi < 0 ? plain : plain.slice(0, semi));
  return m ? m[1]!.toLowerCase().replace(/\.$/, '') : null;
}

const same = (a: string, b: string) => a.trim().toLowerCase().replace(/\.$/, '') === b.trim().toLowerCase().replace(/\.$/, '');

/** The verdict of our own MTA (mode mta). Exported for the unit tests and for `doctor`-style diagnosis. */
export function mtaVerdict(settings: Config['intake']['staffAuth'], fields: HeaderField[], from: string): StaffAuthVerdict {
  const no = (reason: string): StaffAuthVerdict => ({ ok: false, reason, method: 'mta', from });
  const id = settings.trustedAuthServId;
  const mta = settings.mtaHostname;
  if (!id || !mta) return no('intake.staffAuth.mode is mta but trustedAuthServId or mtaHostname is not set');
  const received = fields.findIndex((f) => f.name === 'received' && same(receivedBy(f.value) ?? '', mta));
  if (received < 0) return no(`no Received header by our MTA ${mta}: the message did not come through it, so its Authentication-Results prove nothing`);
  // The authserv-id is a string compared as written (RFC 8601 §2.5, case aside): "mx.dossier.example."
  // is not our MTA's id, however DNS would read it.
  const arIndex = fields.findIndex((f) => f.name === 'authentication-results' && (authServIdOf(f.value) ?? '').trim().toLowerCase() === id.trim().toLowerCase());
  if (arIndex < 0 || arIndex > received) return no(`no Authentication-Results from our MTA (${id}) above its Received header`);
  let results: AuthResult[];
  try {
    results = parseAuthResults(fields[arIndex]!.value).results;
  } catch (err) {
    if (err instanceof AuthResultsSyntaxError) return no(`our MTA's Authentication-Results cannot be read (${err.message})`);
    throw err;
  }
  const fromDomain = domainOf(from);
  // A DMARC result other than pass (fail, temperror, …) vetoes whatever else the header says.
  const dmarc = results.filter((r) => r.method === 'dmarc');
  const notPass = dmarc.find((r) => r.result !== 'pass');
  if (notPass) return no(`our MTA says dmarc=${notPass.result}`);
  const dmarcPass = dmarc.find((r) => domainsAlign(prop(r, 'header.from') ?? '', fromDomain));
  if (dmarcPass) return { ok: true, reason: `our MTA ${id} says dmarc=pass for ${prop(dmarcPass, 'header.from')}`, method: 'mta', from };
  const dkimPass = results.find((r) => r.method === 'dkim' && r.result === 'pass' && domainsAlign(prop(r, 'header.d') ?? domainOf(prop(r, 'header.i') ?? ''), fromDomain));
  if (dkimPass) return { ok: true, reason: `our MTA ${id} says dkim=pass for ${prop(dkimPass, 'header.d') ?? prop(dkimPass, 'header.i')}`, method: 'mta', from };
  if (dmarc.length) return no(`our MTA's dmarc=pass is for ${dmarc.map((r) => prop(r, 'header.from') ?? '(no header.from)').join(', ')}, not for the From domain ${fromDomain}`);
  return no(`our MTA reports no passing DMARC or DKIM aligned with ${fromDomain}`);
}

/** Whether the header section has a DKIM-Signature field (the body is not looked at). */
export function hasDkimSignature(raw: Buffer): boolean {
  const head = raw.subarray(0, 1024 * 1024).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  if (end < 0 && raw.length > head.length) return true; // headers longer than 1 MiB: let mailauth read them
  return /^dkim-signature[ \t]*:/im.test(end >= 0 ? head.slice(0, end) : head);
}

async function dkimVerdict(raw: Buffer, from: string, resolver?: DnsResolver): Promise<StaffAuthVerdict> {
  const no = (reason: string): StaffAuthVerdict => ({ ok: false, reason, method: 'dkim', from });
  // Nothing to verify: answered without a pass of mailauth over the whole message (a flood of mail
  // forging a staff address is mostly unsigned, and each pass hashed its body for nothing).
  if (!hasDkimSignature(raw)) return no(`the message has no DKIM signature (${domainOf(from)} must sign its mail)`);
  let check;
  try {
    check = await checkMessageAuth(raw, resolver);
  } catch (err) {
    return no(`DKIM could not be checked: ${(err as Error).message}`);
  }
  // mailauth reads the headers itself; it must have seen the same single From.
  if (check.from.length !== 1 || check.from[0]!.toLowerCase() !== from) return no(`the From header reads differently to the DKIM verifier (${check.from.join(', ') || 'none'})`);
  const good = check.aligned[0];
  if (good) return { ok: true, reason: `DKIM signature by ${good.domain} verified`, method: 'dkim', from };
  const fromDomain = domainOf(from);
  if (!check.signatures.length) return no(`the message has no DKIM signature (${fromDomain} must sign its mail)`);
  const seen = check.signatures.map((s) => `${s.domain}: ${s.result}${s.comment ? ` (${s.comment})` : ''}${s.result === 'pass' && !s.wholeBody ? ' (part of the body unsigned)' : ''}`);
  return no(`no valid DKIM signature by ${fromDomain} covering the whole message: ${seen.join('; ')}`);
}

/** The pieces of App this needs (a test can pass just these). */
export type StaffAuthHost = Pick<App, 'config'> & { dnsResolver?: DnsResolver | undefined };

/**
 * The one check the router calls for mail from a staff address. `parsed` (optional) is the message as
 * routing read it: its From must be the same address verified here, or nothing is vouched for.
 */
export async function staffAuthentication(app: StaffAuthHost, raw: Buffer, parsed?: Pick<ParsedMessage, 'from'> | null, resolver: DnsResolver | undefined = app.dnsResolver): Promise<StaffAuthVerdict> {
  const settings = app.config.intake.staffAuth;
  const method = settings.mode;
  const fields = headerFields(raw);
  const from = singleFrom(fields);
  if (!from.ok) return { ok: false, reason: `${from.reason}: only a message with a single From address can be verified`, method };
  const routed = parsed?.from?.address?.trim().toLowerCase();
  if (parsed && routed !== from.address) return { ok: false, reason: `the From address was read as ${routed ?? 'none'} and as ${from.address}: ambiguous headers are not trusted`, method, from: from.address };
  return method === 'mta' ? mtaVerdict(settings, fields, from.address) : dkimVerdict(raw, from.address, resolver);
}

/** The older boolean form the intake pipeline calls; null is no longer returned (there is no "none" mode). */
export async function staffVerified(app: StaffAuthHost, raw: Buffer, m: ParsedMessage, resolver?: DnsResolver): Promise<boolean | null> {
  return (await staffAuthentication(app, raw, m, resolver ?? app.dnsResolver)).ok;
}

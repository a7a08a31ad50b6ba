import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { hasDkimSignature, headerFields, receivedBy, singleFrom, staffAuthentication, staffVerified, type DnsResolver, type StaffAuthHost } from '../../src/inbound/verify.js';
import type { ParsedMessage } from '../../src/inbound/types.js';

// Staff authentication a sender cannot forge (issue 13). The attacks that were applied before:
// a sender-written Authentication-Results as the first header with no Received; ";dmarc=pass"
// inside a quoted value of our MTA's "dmarc=fail"; dmarc=pass for another domain; two From
// addresses; two From headers. Each is here, for the mode that reads headers (mta) and, where it
// applies, for the default mode that verifies DKIM itself.

type StaffAuth = Config['intake']['staffAuth'];
const host = (staffAuth: Partial<StaffAuth>, dnsResolver?: DnsResolver): StaffAuthHost =>
  ({ config: { intake: { staffAuth: { mode: 'dkim', trustedAuthServId: null, mtaHostname: null, ...staffAuth } } }, ...(dnsResolver ? { dnsResolver } : {}) }) as unknown as StaffAuthHost;

const MTA = host({ mode: 'mta', trustedAuthServId: 'mx.corp.example', mtaHostname: 'mx.corp.example' });
const OUR_RECEIVED = 'Received: from ws-12.office.corp.example (ws-12.office.corp.example [10.0.0.12])\r\n\tby mx.corp.example (Postfix) with ESMTPSA id 4Bk2xQ\r\n\tfor <intake@corp.example>; Mon, 16 Nov 2026 11:24:07 +0300';
const PASS = 'Authentication-Results: mx.corp.example; dkim=pass header.d=corp.example header.s=mail; dmarc=pass header.from=corp.example';
const FAIL = 'Authentication-Results: mx.corp.example; dkim=fail header.d=corp.example; dmarc=fail header.from=corp.example';

function message(headers: string[], from: string[] = ['From: Maria <manager@corp.example>']): Buffer {
  return Buffer.from([...headers, ...from, 'To: intake@corp.example', 'Subject: FW: decision', 'Message-ID: <m1@corp.example>', 'Date: Mon, 16 Nov 2026 11:24:05 +0300', '', 'одобрено', ''].join('\r\n'));
}
const parsedFrom = (address: string) => ({ from: { name: '', address } }) as Pick<ParsedMessage, 'from'>;

describe('reading the header block', () => {
  it('unfolds headers in order and finds the by-host of Received, ignoring comments', () => {
    const f = headerFields(message([PASS, OUR_RECEIVED]));
    expect(f.map((h) => h.name).slice(0, 3)).toEqual(['authentication-results', 'received', 'from']);
    expect(receivedBy(f[1]!.value)).toBe('mx.corp.example');
    expect(receivedBy('from evil.example (by mx.corp.example) by mx.evil.example; Mon, 16 Nov 2026')).toBe('mx.evil.example');
    expect(receivedBy('from a by mx.corp.example. with LMTP id x; Mon, 16 Nov 2026 10:00:00 +0300')).toBe('mx.corp.example');
    expect(receivedBy('from a with SMTP; Mon, 16 Nov 2026 by mx.corp.example')).toBeNull();
  });

  it('accepts exactly one From header with exactly one address', () => {
    expect(singleFrom(headerFields(message([])))).toEqual({ ok: true, address: 'manager@corp.example' });
    expect(singleFrom(headerFields(message([], ['From: manager@corp.example, attacker@evil.example'])))).toMatchObject({ ok: false, reason: 'the From header names 2 addresses' });
    expect(singleFrom(headerFields(message([], ['From: manager@corp.example', 'From: attacker@evil.example'])))).toMatchObject({ ok: false, reason: 'the message has 2 From headers' });
    expect(singleFrom(headerFields(message([], ['From: staff: manager@corp.example, attacker@evil.example;'])))).toMatchObject({ ok: false });
    expect(singleFrom(headerFields(message([], ['From : manager@corp.example', 'from: attacker@evil.example'])))).toMatchObject({ ok: false, reason: 'the message has 2 From headers' });
    expect(singleFrom(headerFields(message([], [])))).toMatchObject({ ok: false, reason: 'the message has no From header' });
  });
});

describe('mode mta: our own MTA\'s Authentication-Results', () => {
  const verdict = (headers: string[], from?: string[]) => staffAuthentication(MTA, message(headers, from));

  it('trusts our MTA\'s pass above its own Received', async () => {
    expect(await verdict([PASS, OUR_RECEIVED])).toMatchObject({ ok: true, method: 'mta', from: 'manager@corp.example' });
    // Dovecot's LMTP Received on top is fine: ours is still below the header.
    expect((await verdict(['Received: from mx.corp.example by imap.corp.example with LMTP; Mon, 16 Nov 2026 11:24:08 +0300', PASS, OUR_RECEIVED])).ok).toBe(true);
    expect((await verdict([PASS.replace('; dkim=pass header.d=corp.example header.s=mail', ''), OUR_RECEIVED])).ok).toBe(true);
    expect((await verdict(['Authentication-Results: mx.corp.example; dkim=pass header.d=corp.example', OUR_RECEIVED])).ok).toBe(true);
  });

  it('refuses a forged header as the first line with no Received at all (mail ingest, a dropped file)', async () => {
    const v = await verdict([PASS]);
    expect(v.ok).toBe(false);
    expect(v.reason).toContain('no Received header by our MTA mx.corp.example');
  });

  it('refuses a header with our name below our Received: it came with the message', async () => {
    expect((await verdict([OUR_RECEIVED, PASS])).ok).toBe(false);
    // The sender wrote our Received and our header too; the real MTA added its Received on top but no header.
    expect((await verdict([OUR_RECEIVED, PASS, OUR_RECEIVED.replace('ws-12', 'evil')])).ok).toBe(false);
  });

  it('reads only the topmost header with our authserv-id', async () => {
    expect((await verdict([FAIL, PASS, OUR_RECEIVED])).ok).toBe(false);
    expect((await verdict(['Authentication-Results: spamfilter.corp.example; spam=pass', PASS, OUR_RECEIVED])).ok).toBe(true);
    expect((await verdict([PASS.replace('mx.corp.example;', 'mx.evil.example;'), OUR_RECEIVED])).ok).toBe(false);
    expect((await verdict([PASS.replace('mx.corp.example;', 'mx.corp.example.evil.example;'), OUR_RECEIVED])).ok).toBe(false);
    // The authserv-id is a string, not a host name: a trailing dot makes it another id (found by the hostile corpus).
    expect((await verdict([PASS.replace('mx.corp.example;', 'mx.corp.example.;'), OUR_RECEIVED])).ok).toBe(false);
    expect((await verdict([PASS.replace('mx.corp.example;', 'MX.Corp.Example;'), OUR_RECEIVED])).ok).toBe(true);
    expect((await verdict([`Authentication-Results: mx.evil.example (${PASS.slice(24)}); dkim=none`, OUR_RECEIVED])).ok).toBe(false);
  });

  it('refuses our dmarc=fail with ";dmarc=pass" inside a quoted value or a comment', async () => {
    const quoted = await verdict(['Authentication-Results: mx.corp.example; dkim=fail header.d=corp.example; dmarc=fail reason="x;dmarc=pass header.from=corp.example" header.from=corp.example', OUR_RECEIVED]);
    expect(quoted).toMatchObject({ ok: false, reason: 'our MTA says dmarc=fail' });
    const inMailfrom = await verdict(['Authentication-Results: mx.corp.example; spf=pass smtp.mailfrom="a;dmarc=pass header.from=corp.example"@evil.example; dmarc=fail header.from=corp.example', OUR_RECEIVED]);
    expect(inMailfrom.ok).toBe(false);
    const comment = await verdict(['Authentication-Results: mx.corp.example; dmarc=none (;dmarc=pass header.from=corp.example)', OUR_RECEIVED]);
    expect(comment.ok).toBe(false);
  });

  it('refuses a pass for a domain not aligned with From', async () => {
    const v = await verdict(['Authentication-Results: mx.corp.example; dmarc=pass header.from=evil.example', OUR_RECEIVED]);
    expect(v).toMatchObject({ ok: false });
    expect(v.reason).toContain('not for the From domain corp.example');
    expect((await verdict(['Authentication-Results: mx.corp.example; dkim=pass header.d=evil.example', OUR_RECEIVED])).ok).toBe(false);
    expect((await verdict(['Authentication-Results: mx.corp.example; dkim=pass header.d=corp.example.evil.example', OUR_RECEIVED])).ok).toBe(false);
    expect((await verdict(['Authentication-Results: mx.corp.example; dmarc=pass', OUR_RECEIVED])).ok).toBe(false);
    // Relaxed alignment: a subdomain of the same organisational domain aligns.
    expect((await verdict(['Authentication-Results: mx.corp.example; dmarc=pass header.from=mail.corp.example', OUR_RECEIVED])).ok).toBe(true);
  });

  it('refuses two From addresses and two From headers, whatever the MTA says', async () => {
    expect(await verdict([PASS, OUR_RECEIVED], ['From: manager@corp.example, attacker@evil.example'])).toMatchObject({ ok: false, reason: expect.stringContaining('2 addresses') });
    expect(await verdict([PASS, OUR_RECEIVED], ['From: manager@corp.example', 'From: attacker@evil.example'])).toMatchObject({ ok: false, reason: expect.stringContaining('2 From headers') });
  });

  it('refuses a header it cannot parse, and a From read differently by routing', async () => {
    expect((await verdict(['Authentication-Results: mx.corp.example; dmarc=pass header.from=corp.example reason="open', OUR_RECEIVED])).reason).toContain('cannot be read');
    const v = await staffAuthentication(MTA, message([PASS, OUR_RECEIVED]), parsedFrom('attacker@evil.example'));
    expect(v.ok).toBe(false);
  });

  it('trusts nothing until both names are set', async () => {
    const unset = host({ mode: 'mta', trustedAuthServId: 'mx.corp.example', mtaHostname: null });
    expect(await staffAuthentication(unset, message([PASS, OUR_RECEIVED]))).toMatchObject({ ok: false, reason: expect.stringContaining('not set') });
  });
});

// Mode dkim: real RSA keys, real signatures by mailauth's signer; the resolver answers the TXT
// records of the keys made here (the stand-in for DNS, which this machine does not have).
const require = createRequire(import.meta.url);
const { dkimSign } = require('mailauth/lib/dkim/sign') as { dkimSign(m: Buffer, o: Record<string, unknown>): Promise<{ signatures: string }> };
const keys = new Map<string, { privateKey: string; txt: string }>();
for (const d of ['corp.example', 'evil.example']) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keys.set(d, { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), txt: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}` });
}
const dmarcRecords = new Map<string, string>([['corp.example', 'v=DMARC1; p=reject']]);
const resolver: DnsResolver = async (name, rr) => {
  const dkim = /^mail\._domainkey\.(.+)$/.exec(name)?.[1];
  if (rr === 'TXT' && dkim && keys.has(dkim)) return [[keys.get(dkim)!.txt]];
  const dmarc = /^_dmarc\.(.+)$/.exec(name)?.[1];
  if (rr === 'TXT' && dmarc && dmarcRecords.has(dmarc)) return [[dmarcRecords.get(dmarc)!]];
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};
async function sign(raw: Buffer, domain: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
  const { signatures } = await dkimSign(raw, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: domain, selector: 'mail', privateKey: keys.get(domain)!.privateKey, ...extra }] });
  return Buffer.concat([Buffer.from(signatures), raw]);
}
const DKIM = host({ mode: 'dkim' }, resolver);

describe('mode dkim (the default): Dossier verifies the signature itself', () => {
  it('accepts a message signed by the From domain, with no header from any MTA', async () => {
    const v = await staffAuthentication(DKIM, await sign(message([]), 'corp.example'), parsedFrom('manager@corp.example'));
    expect(v).toMatchObject({ ok: true, method: 'dkim', reason: 'DKIM signature by corp.example verified' });
    expect(await staffVerified(DKIM, await sign(message([]), 'corp.example'), parsedFrom('manager@corp.example') as ParsedMessage)).toBe(true);
  });

  it('answers an unsigned message without verifying it, but looks for the signature in the headers only', () => {
    expect(hasDkimSignature(Buffer.from('From: a@corp.example\r\nDKIM-Signature: v=1; d=corp.example\r\n\r\nbody\r\n'))).toBe(true);
    expect(hasDkimSignature(Buffer.from('From: a@corp.example\r\ndkim-signature : v=1\n\nbody\n'))).toBe(true);
    // A signature quoted in the body (a forwarded message's text) is no signature of this message.
    expect(hasDkimSignature(Buffer.from('From: a@corp.example\r\nSubject: x\r\n\r\nDKIM-Signature: v=1; d=corp.example\r\n'))).toBe(false);
    expect(hasDkimSignature(Buffer.from('From: a@corp.example\r\nX-DKIM-Signature: v=1\r\n\r\n'))).toBe(false);
  });

  it('ignores any Authentication-Results a sender wrote', async () => {
    const forged = message(['Authentication-Results: mx.corp.example; dkim=pass header.d=corp.example; dmarc=pass header.from=corp.example', OUR_RECEIVED]);
    expect(await staffAuthentication(DKIM, forged)).toMatchObject({ ok: false, reason: expect.stringContaining('no DKIM signature') });
  });

  it('refuses a signature by another domain, a changed body, and an unsigned tail after l=', async () => {
    expect((await staffAuthentication(DKIM, await sign(message([]), 'evil.example'))).ok).toBe(false);
    const tampered = Buffer.from((await sign(message([]), 'corp.example')).toString('utf8').replace('одобрено', 'отказ'));
    expect((await staffAuthentication(DKIM, tampered)).ok).toBe(false);
    const body = message([]);
    const signed = await sign(body, 'corp.example', { maxBodyLength: 2 });
    const appended = Buffer.concat([signed, Buffer.from('сумма 9 900 000\r\n')]);
    const v = await staffAuthentication(DKIM, appended);
    expect(v.ok).toBe(false);
    expect(v.reason).toContain('part of the body unsigned');
  });

  it('refuses two From addresses or two From headers even when signed', async () => {
    const two = await sign(message([], ['From: manager@corp.example, attacker@evil.example']), 'corp.example');
    expect((await staffAuthentication(DKIM, two)).reason).toContain('2 addresses');
    // A second From added above a signed message: DKIM verifiers read the bottom one.
    const signed = await sign(message([]), 'corp.example');
    const added = Buffer.concat([Buffer.from('From: attacker@evil.example\r\n'), signed]);
    expect((await staffAuthentication(DKIM, added)).reason).toContain('2 From headers');
  });

  it('fails closed when DNS fails', async () => {
    const down = host({ mode: 'dkim' }, async () => {
      throw Object.assign(new Error('queryTxt ETIMEOUT'), { code: 'ETIMEOUT' });
    });
    expect((await staffAuthentication(down, await sign(message([]), 'corp.example'))).ok).toBe(false);
  });
});

import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { DnsResolver } from '../../src/inbound/dkim.js';
import { isPublicMailDomain, partyAddressAllowed, partyDmarc, partyDomainProblems } from '../../src/inbound/party-sender.js';

// Outside parties speak from their exact addresses; a party's own domains only when listed, and
// never a public provider's (issue 13: anyone at mail.ru passed as the party). DMARC of the
// party's domain, when published and failed, quarantines.

const lawyer = { emails: ['ershov@law-ershov.example'], domains: [] };
const firm = { emails: ['ershov@law-ershov.example'], domains: ['law-ershov.example'] };

describe('partyAddressAllowed', () => {
  it('takes the exact address, in any case, and nothing else by default', () => {
    expect(partyAddressAllowed(lawyer, 'ershov@law-ershov.example')).toBe(true);
    expect(partyAddressAllowed(lawyer, ' Ershov@Law-Ershov.EXAMPLE ')).toBe(true);
    expect(partyAddressAllowed(lawyer, 'assistant@law-ershov.example')).toBe(false);
    expect(partyAddressAllowed(lawyer, 'ershov@law-ershov.example.evil.example')).toBe(false);
    expect(partyAddressAllowed(lawyer, 'not-an-address')).toBe(false);
  });

  it('takes the party\'s own listed domain, but not its subdomains', () => {
    expect(partyAddressAllowed(firm, 'assistant@law-ershov.example')).toBe(true);
    expect(partyAddressAllowed(firm, 'x@evil.law-ershov.example')).toBe(false);
    expect(partyAddressAllowed(firm, 'x@law-ershov.example.ru')).toBe(false);
  });

  it('never takes a public provider\'s domain, even when a party lists it', () => {
    const careless = { emails: ['ershov.law@mail.ru'], domains: ['mail.ru', 'gmail.com', 'yandex.ru'] };
    expect(partyAddressAllowed(careless, 'ershov.law@mail.ru')).toBe(true); // the exact address is still theirs
    for (const a of ['attacker@mail.ru', 'x@gmail.com', 'x@yandex.ru', 'x@bk.ru', 'x@list.ru', 'x@inbox.ru', 'x@outlook.com', 'x@hotmail.com', 'x@yahoo.com', 'x@icloud.com', 'x@rambler.ru']) {
      expect(partyAddressAllowed(careless, a), a).toBe(false);
      expect(partyAddressAllowed({ emails: [], domains: [a.split('@')[1]!] }, a), a).toBe(false);
    }
  });

  it('says which listed domains cannot be a party\'s own', () => {
    expect(partyDomainProblems(['law-ershov.example'])).toEqual([]);
    expect(partyDomainProblems(['mail.ru', 'GMAIL.com', 'e.mail.ru', 'not a domain'])).toEqual([
      expect.stringContaining('"mail.ru" is a public mail provider'),
      expect.stringContaining('"GMAIL.com" is a public mail provider'),
      expect.stringContaining('"e.mail.ru" is a public mail provider'),
      '"not a domain" is not a domain name',
    ]);
    expect(isPublicMailDomain('mail.yandex.ru')).toBe(true);
    expect(isPublicMailDomain('sber.example')).toBe(false);
  });
});

const require = createRequire(import.meta.url);
const { dkimSign } = require('mailauth/lib/dkim/sign') as { dkimSign(m: Buffer, o: Record<string, unknown>): Promise<{ signatures: string }> };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const dns = new Map<string, string>([
  ['mail._domainkey.law-ershov.example', `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`],
  ['_dmarc.law-ershov.example', 'v=DMARC1; p=quarantine'],
]);
const resolver: DnsResolver = async (name, rr) => {
  if (rr === 'TXT' && dns.has(name)) return [[dns.get(name)!]];
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};
const mail = (from: string) => Buffer.from([`From: ${from}`, 'To: intake+cl-2026-00001.abcdef@dossier.example', 'Subject: [CL-2026-00001 abcdef] documents', 'Message-ID: <l1@law-ershov.example>', '', 'Documents attached.', ''].join('\r\n'));
const sign = async (raw: Buffer, domain = 'law-ershov.example') => Buffer.concat([Buffer.from((await dkimSign(raw, { signatureData: [{ signingDomain: domain, selector: 'mail', privateKey: pem }] })).signatures), raw]);
const dkimApp = { config: { intake: { staffAuth: { mode: 'dkim', trustedAuthServId: null, mtaHostname: null } } } as unknown as Pick<Config, 'intake'>, dnsResolver: resolver };
const mtaApp = { config: { intake: { staffAuth: { mode: 'mta', trustedAuthServId: 'mx.dossier.example', mtaHostname: 'mx.dossier.example' } } } as unknown as Pick<Config, 'intake'> };
const RECEIVED = 'Received: from mail.law-ershov.example by mx.dossier.example with ESMTPS; Mon, 16 Nov 2026 10:00:00 +0300';

describe('partyDmarc', () => {
  it('mode dkim: passes a message the party\'s domain signed, quarantines a forged From at a domain with DMARC', async () => {
    expect(await partyDmarc(dkimApp, await sign(mail('ershov@law-ershov.example')))).toMatchObject({ result: 'pass', quarantine: false, domain: 'law-ershov.example' });
    const forged = await partyDmarc(dkimApp, mail('Ershov <ershov@law-ershov.example>'));
    expect(forged).toMatchObject({ result: 'fail', quarantine: true });
    expect(forged.reason).toContain('law-ershov.example publishes DMARC');
    // Signed, but by another domain: still not the party's.
    dns.set('mail._domainkey.evil.example', dns.get('mail._domainkey.law-ershov.example')!);
    expect((await partyDmarc(dkimApp, await sign(mail('ershov@law-ershov.example'), 'evil.example'))).quarantine).toBe(true);
  });

  it('mode dkim: a domain without DMARC is none (exact-address and token rules decide), two From addresses quarantine', async () => {
    expect(await partyDmarc(dkimApp, mail('someone@no-dmarc.example'))).toMatchObject({ result: 'none', quarantine: false });
    expect(await partyDmarc(dkimApp, mail('ershov@law-ershov.example, x@evil.example'))).toMatchObject({ quarantine: true, result: 'unknown' });
  });

  it('mode mta: reads our MTA\'s trusted result, not one the sender wrote', async () => {
    const withAr = (ar: string, order: 'ours' | 'below' = 'ours') => {
      const h = order === 'ours' ? [ar, RECEIVED] : [RECEIVED, ar];
      return Buffer.concat([Buffer.from(h.join('\r\n') + '\r\n'), mail('ershov@law-ershov.example')]);
    };
    expect(await partyDmarc(mtaApp, withAr('Authentication-Results: mx.dossier.example; dmarc=fail (p=quarantine) header.from=law-ershov.example'))).toMatchObject({ result: 'fail', quarantine: true });
    expect(await partyDmarc(mtaApp, withAr('Authentication-Results: mx.dossier.example; dmarc=pass header.from=law-ershov.example'))).toMatchObject({ result: 'pass', quarantine: false });
    expect(await partyDmarc(mtaApp, withAr('Authentication-Results: mx.dossier.example; dmarc=fail reason="x;dmarc=pass header.from=law-ershov.example" header.from=law-ershov.example'))).toMatchObject({ quarantine: true });
    // A sender's own pass below our Received is not our MTA's word.
    expect(await partyDmarc(mtaApp, withAr('Authentication-Results: mx.dossier.example; dmarc=pass header.from=law-ershov.example', 'below'))).toMatchObject({ result: 'unknown' });
  });
});

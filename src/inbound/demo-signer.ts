import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import type { DnsResolver } from './dkim.js';

// For `dossier demo` only: the demo's managers "send" from a reserved domain (dossier.example) that
// has no DNS, yet the demo must show staff mail verified the way the shipped configuration does it
// (staffAuth mode dkim), not a header anyone could write. So the demo makes a key pair of its own,
// signs the managers' messages with it (mailauth's signer, as a mail server would) and answers the
// DKIM lookups for those domains with the public key — in the demo process only; a name it does not
// know is ENOTFOUND, as in real DNS. No other code path uses this.

const require = createRequire(import.meta.url);

export interface DemoSigner {
  sign(raw: Buffer): Promise<Buffer>;
  resolver: DnsResolver;
}

export function demoSigner(domain: string, selector = 'demo'): DemoSigner {
  const { dkimSign } = require('mailauth') as { dkimSign(m: Buffer, o: Record<string, unknown>): Promise<{ signatures: string }> };
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const txt = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const name = `${selector}._domainkey.${domain.toLowerCase()}`;
  return {
    async sign(raw) {
      const { signatures } = await dkimSign(raw, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: domain, selector, privateKey: pem }] });
      return Buffer.concat([Buffer.from(signatures), raw]);
    },
    async resolver(query, rrtype) {
      if (rrtype === 'TXT' && query.toLowerCase() === name) return [[txt]];
      throw Object.assign(new Error(`queryTxt ENOTFOUND ${query}`), { code: 'ENOTFOUND' });
    },
  };
}

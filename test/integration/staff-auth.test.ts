import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, cliActor, type App } from '../../src/app.js';
import { ingest } from '../../src/inbound/ingest.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { fixturesDir } from '../../src/paths.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { outlookForward } from '../helpers/mail.js';

// staffAuth mode dkim (the default) — Dossier verifies DKIM itself. The machine has no network, so DNS is the one
// thing stood in for: a resolver that answers the TXT records of the keys made here (a real DNS
// lookup cannot be provoked in this sandbox). Signing and verifying are mailauth's, for real.

const require = createRequire(import.meta.url);
const { dkimSign } = require('mailauth/lib/dkim/sign') as { dkimSign(m: Buffer, o: Record<string, unknown>): Promise<{ signatures: string }> };

let db: TestDatabase;
let app: App;
const keys = new Map<string, { privateKey: string; txt: string }>();

function key(domain: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  keys.set(domain, { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), txt: `v=DKIM1; k=rsa; p=${p}` });
}

async function sign(raw: Buffer, domain: string): Promise<Buffer> {
  const k = keys.get(domain)!;
  const { signatures } = await dkimSign(raw, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: domain, selector: 'mail', privateKey: k.privateKey }] });
  expect(signatures.trim()).toMatch(/^DKIM-Signature:/);
  return Buffer.concat([Buffer.from(signatures), raw]);
}

const approval = (id: string, command = 'одобрено, сумма 1 500 000') =>
  outlookForward({
    id,
    auth: null, // no Authentication-Results: this mode must not need them
    command,
    bankFrom: 'credit@bank-sever.example',
    bankName: 'АО «Банк Северный»',
    bankSubject: 'Решение по заявке Смирнов Алексей Викторович',
    bankText: 'По заявке Смирнов Алексей Викторович принято положительное решение.',
  });

beforeAll(async () => {
  db = await createTestDatabase();
  const env = testEnv(db.url, await tempDir(), { DOSSIER_INTAKE__STAFF_AUTH__MODE: 'dkim' });
  app = await openApp({ env });
  key('dossier.example');
  key('evil.example');
  app.dnsResolver = async (name, rr) => {
    const domain = /^mail\._domainkey\.(.+)$/.exec(name)?.[1];
    if (rr === 'TXT' && domain && keys.has(domain)) return [[keys.get(domain)!.txt]];
    throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
  await importRecords(app, cliActor(env), 'deal', path.join(fixturesDir, 'records', 'deal.json'));
});
afterAll(async () => {
  await app.close();
  await db.drop();
});

describe('staff mail verified with mailauth', () => {
  it('applies a command signed by our domain', async () => {
    const r = await ingest(app, await sign(approval('signed-1'), 'dossier.example'), 'signed.eml');
    expect(r.outcome, r.reason).toBe('applied');
  });

  it('quarantines the same command unsigned, signed by another domain, or changed after signing', async () => {
    expect((await ingest(app, approval('unsigned-1'), 'u.eml')).reason).toContain('without a passing DKIM/DMARC result');
    expect((await ingest(app, await sign(approval('evil-1'), 'evil.example'), 'e.eml')).outcome).toBe('quarantined');
    const signed = (await sign(approval('tampered-1'), 'dossier.example')).toString('utf8').replace('сумма 1 500 000', 'сумма 9 900 000');
    const t = await ingest(app, Buffer.from(signed), 't.eml');
    expect(t.outcome).toBe('quarantined');
  });
});

import { describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { staffVerified } from '../../src/inbound/verify.js';
import type { ParsedMessage } from '../../src/inbound/types.js';

// Which Authentication-Results count for staff mail (staffAuth: authentication-results). Found by the
// hostile-mail corpus (test/integration/hostile.test.ts): a sender's own "mx.dossier.example;
// dmarc=pass" below our MTA's "dmarc=fail" was trusted, and the forged decision applied.

const app = { config: { intake: { staffAuth: 'authentication-results', trustedAuthServId: 'mx.dossier.example' } } } as unknown as App;
const PASS = 'mx.dossier.example; dkim=pass header.d=dossier.example header.s=mail; dmarc=pass header.from=dossier.example';
const FAIL = 'mx.dossier.example; dkim=fail header.d=dossier.example; dmarc=fail header.from=dossier.example';
const message = (authResults: string[]) => ({ from: { name: '', address: 'manager@dossier.example' }, authResults }) as unknown as ParsedMessage;
const verified = (authResults: string[]) => staffVerified(app, Buffer.from(''), message(authResults));

describe('staff mail by Authentication-Results', () => {
  it('trusts our MTA\'s verdict, which is the topmost header with our authserv-id', async () => {
    expect(await verified([PASS])).toBe(true);
    expect(await verified(['spamfilter.dossier.example; spam=pass', PASS])).toBe(true); // another of ours above it
    expect(await verified([FAIL])).toBe(false);
  });

  it('ignores a pass with our authserv-id below our verdict: the sender wrote it', async () => {
    expect(await verified([FAIL, PASS])).toBe(false);
    expect(await verified(['mx.dossier.example; dkim=none; dmarc=none', PASS, PASS])).toBe(false);
  });

  it('ignores other and look-alike authserv-ids', async () => {
    expect(await verified([PASS.replace('mx.dossier.example', 'mx.evil.example')])).toBe(false);
    expect(await verified([PASS.replace('mx.dossier.example', 'mx.dossier.example.evil.example')])).toBe(false);
    expect(await verified([`mx.evil.example (${PASS}); dkim=none`])).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeLink, encodeLink, parseExpires, redactLinkPath } from '../../src/portal/links.js';
import { hashPassword, verifyPassword } from '../../src/portal/users.js';

// Portal links (issue 18): what is signed, what is refused, how --expires reads, what a log line keeps.

const secret = 'a-secret-of-sixteen-or-more';
const claims = { ref: 'CL-2026-00001', partyKey: 'lawyer-ershov', generation: 2, expiresAt: new Date('2026-12-31T00:00:00Z') };

describe('portal links', () => {
  it('carry ref, party, generation and expiry under a signature that any change breaks', () => {
    const token = encodeLink(secret, claims);
    expect(decodeLink([secret], token)).toEqual(claims);
    expect(decodeLink(['another-secret-0123456', secret], token)).toEqual(claims); // a previous secret still reads it
    expect(decodeLink(['another-secret-0123456'], token)).toBeNull();
    const [payload, sig] = token.split('.') as [string, string];
    // Another party in the payload, with the original signature.
    const other = Buffer.from(`CL-2026-00001|broker-garant|2|${Math.floor(claims.expiresAt.getTime() / 1000)}`).toString('base64url');
    expect(decodeLink([secret], `${other}.${sig}`)).toBeNull();
    // Every one-character change of the signature, including the last character's unused bits.
    for (let i = 0; i < sig.length; i++) {
      const changed = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
      expect(decodeLink([secret], `${payload}.${changed}`), `position ${i}`).toBeNull();
    }
    for (const junk of ['', '.', 'abc', `${payload}.`, `${payload}.${sig}.x`, `${payload}=.${sig}`]) expect(decodeLink([secret], junk)).toBeNull();
  });

  it('reads --expires as days, hours or a date, never one already past', () => {
    const now = new Date('2026-12-06T12:00:00Z');
    expect(parseExpires(undefined, 30, now).toISOString()).toBe('2027-01-05T12:00:00.000Z');
    expect(parseExpires('14d', 30, now).toISOString()).toBe('2026-12-20T12:00:00.000Z');
    expect(parseExpires('48h', 30, now).toISOString()).toBe('2026-12-08T12:00:00.000Z');
    expect(parseExpires('2026-12-31', 30, now).toISOString()).toBe('2026-12-31T23:59:59.000Z');
    expect(() => parseExpires('2026-12-01', 30, now)).toThrow(/already past/);
    expect(() => parseExpires('soon', 30, now)).toThrow(/not a duration or a date/);
  });

  it('are cut out of logged paths', () => {
    expect(redactLinkPath('/l/Q0wtMjAy.abc_DEF-1/upload?lang=ru&_csrf=x')).toBe('/l/[link]/upload?lang=ru&_csrf=[token]');
    expect(redactLinkPath('/staff/r/CL-2026-00001')).toBe('/staff/r/CL-2026-00001');
  });
});

describe('staff passwords', () => {
  it('are kept as salted scrypt hashes that only the password matches', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b); // a salt each
    expect(a).not.toContain('correct');
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('anything', 'not a hash')).toBe(false);
  });
});

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { tokenSecret, tokenSecrets } from '../../src/outbound/settings.js';
import { checkReplyToken, issueReplyToken, replyToken } from '../../src/outbound/tokens.js';
import { fixturesDir } from '../../src/paths.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// Reply tokens in circulation (issue 13): bound to party and record, expiring, revocable with
// `dossier share revoke`, and a lost secret is a loud error, never a silent new one. Real
// PostgreSQL; the CLI runs in this process.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
let claim: string;
const days = 180;

const link = async (ref: string, key: string) =>
  (
    await app.db.query<{ recordId: number; partyId: number }>(
      `SELECT r.id AS "recordId", p.id AS "partyId" FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id WHERE r.ref = $1 AND p.key = $2 LIMIT 1`,
      [ref, key],
    )
  ).rows[0]!;
const issue = async (ref: string, key: string) => issueReplyToken(app.db, await tokenSecret(app), { ...(await link(ref, key)), ref, partyKey: key });
const check = async (ref: string, token: string, now?: Date) => checkReplyToken(app.db, await tokenSecrets(app), ref, token, { days, ...(now ? { now } : {}) });

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir()); // no configured secret: generated in the database
  app = await openApp({ env });
  const [c] = await importRecords(app, cliActor(env), 'claim', path.join(fixturesDir, 'records', 'claim.json'));
  claim = c!.ref;
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('reply tokens', () => {
  it('issues the token in the form sent mail already carries, bound to its party and record', async () => {
    const token = await issue(claim, 'insurer-magistral');
    expect(token).toBe(replyToken(await tokenSecret(app), claim, 'insurer-magistral')); // generation 0 = the old format
    expect(await check(claim, token)).toMatchObject({ status: 'ok', partyKey: 'insurer-magistral' });
    expect(await check(claim, token.toUpperCase())).toMatchObject({ status: 'ok' });
    // Another party's token, a forged one, the right token on another record: invalid.
    const broker = await issue(claim, 'broker-garant');
    expect((await check(claim, broker)).partyKey).toBe('broker-garant');
    for (const forged of ['aaaaaa', 'zzzzzz', token.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))]) {
      expect(await check(claim, forged), forged).toMatchObject({ status: 'invalid', partyKey: null });
    }
    expect(await check('CL-2026-99999', token)).toMatchObject({ status: 'invalid', reason: 'there is no record CL-2026-99999' });
    expect(await check(claim, 'k7f3q')).toMatchObject({ status: 'invalid' });
  });

  it('expires a configured number of days after the token was last sent; sending again renews it', async () => {
    const token = await issue(claim, 'insurer-magistral');
    const { recordId, partyId } = await link(claim, 'insurer-magistral');
    await app.db.query(`UPDATE reply_tokens SET issued_at = now() - interval '181 days' WHERE record_id = $1 AND party_id = $2`, [recordId, partyId]);
    const expired = await check(claim, token);
    expect(expired).toMatchObject({ status: 'expired', partyKey: 'insurer-magistral' });
    expect(expired.reason).toMatch(/expired on \d{4}-\d\d-\d\d \(180 days after it was last sent\)/);
    expect((await checkReplyToken(app.db, await tokenSecrets(app), claim, token, { days: 365 })).status).toBe('ok');
    expect(await issue(claim, 'insurer-magistral')).toBe(token);
    expect((await check(claim, token)).status).toBe('ok');
    expect((await check(claim, token, new Date(Date.now() + 181 * 86_400_000))).status).toBe('expired');
  });

  it('`dossier share revoke` ends a token at once; the next one sent is new, the old stays revoked', async () => {
    const old = await issue(claim, 'broker-garant');
    const r = await dossier(['share', 'revoke', claim, '--party', 'broker-garant'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Revoked the reply token of broker-garant for ${claim}`);
    expect(await check(claim, old)).toMatchObject({ status: 'revoked', partyKey: 'broker-garant' });
    const event = await app.db.query(`SELECT e.actor, e.kind FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.kind = 'reply_token_revoked'`, [claim]);
    expect(event.rows).toEqual([{ actor: 'cli:tester', kind: 'reply_token_revoked' }]);
    const again = await dossier(['share', 'revoke', claim, '--party', 'broker-garant', '--json'], env);
    expect(again.json()).toMatchObject({ alreadyRevoked: true, party: 'broker-garant' });

    const fresh = await issue(claim, 'broker-garant');
    expect(fresh).not.toBe(old);
    expect(await check(claim, fresh)).toMatchObject({ status: 'ok', partyKey: 'broker-garant' });
    expect(await check(claim, old)).toMatchObject({ status: 'revoked', reason: expect.stringContaining('a newer one was issued since') });

    const stranger = await dossier(['share', 'revoke', claim, '--party', 'nobody-here'], env);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain('TOKEN_NOT_FOUND');
  });

  it('still reads a token sent before tokens were recorded (no reply_tokens row)', async () => {
    const { recordId, partyId } = await link(claim, 'lessor-lpi');
    const token = replyToken(await tokenSecret(app), claim, 'lessor-lpi');
    await app.db.query('UPDATE record_parties SET reply_token = $3 WHERE record_id = $1 AND party_id = $2', [recordId, partyId, token]);
    expect(await check(claim, token)).toMatchObject({ status: 'ok', partyKey: 'lessor-lpi' });
  });

  it('a lost secret is TOKEN_SECRET_MISSING, never a new secret', async () => {
    const saved = (await app.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'reply_token_secret'`)).rows[0]!.value;
    await app.db.query(`DELETE FROM settings WHERE key = 'reply_token_secret'`);
    const lost = await openApp({ env });
    try {
      await expect(tokenSecret(lost)).rejects.toMatchObject({ code: 'TOKEN_SECRET_MISSING' });
      expect((await lost.db.query(`SELECT count(*)::int AS n FROM settings WHERE key = 'reply_token_secret'`)).rows[0].n).toBe(0);
      // A different configured secret is refused too: it did not issue the tokens out there.
      const other = await openApp({ env: { ...env, DOSSIER_MAIL__TOKEN_SECRET: 'a-different-secret-0123456789' } });
      try {
        await expect(tokenSecret(other)).rejects.toMatchObject({ code: 'TOKEN_SECRET_MISSING', message: expect.stringContaining('not the one that issued') });
      } finally {
        await other.close();
      }
    } finally {
      await lost.close();
    }

    // Rotation, declared: the new secret issues, the old one still reads the tokens in circulation.
    const token = replyToken(saved, claim, 'insurer-magistral');
    const rotated = await openApp({ env: { ...env, DOSSIER_MAIL__TOKEN_SECRET: 'the-new-secret-0123456789abcdef', DOSSIER_MAIL__PREVIOUS_TOKEN_SECRETS: JSON.stringify([saved]) } });
    try {
      const s = await tokenSecrets(rotated);
      expect(s).toEqual({ current: 'the-new-secret-0123456789abcdef', previous: [saved] });
      expect(await checkReplyToken(rotated.db, s, claim, token, { days })).toMatchObject({ status: 'ok', partyKey: 'insurer-magistral' });
    } finally {
      await rotated.close();
    }

    // A database from before the fingerprint: its generated secret issued the tokens, and a newly
    // configured secret would silently replace it.
    await app.db.query(`DELETE FROM settings WHERE key = 'reply_token_fingerprint'`);
    await app.db.query(`INSERT INTO settings (key, value) VALUES ('reply_token_secret', $1)`, [saved]);
    const replaced = await openApp({ env: { ...env, DOSSIER_MAIL__TOKEN_SECRET: 'yet-another-secret-0123456789' } });
    try {
      await expect(tokenSecret(replaced)).rejects.toMatchObject({ code: 'TOKEN_SECRET_MISSING', message: expect.stringContaining('settings.reply_token_secret') });
    } finally {
      await replaced.close();
    }
  });
});

import { createHmac, randomBytes } from 'node:crypto';
import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';

// The reply-token secret: mail.tokenSecret, or one generated at the first package and kept in the
// database (settings.reply_token_secret). A secret is generated only while no token has ever been
// issued: once tokens are out, a lost secret (a restored database without the settings row, a
// configured secret removed or changed) is TOKEN_SECRET_MISSING — loud, at once — instead of a new
// secret that silently voids every token in circulation and makes each reply fail with a
// misleading "wrong token". A fingerprint of the secret that issued the tokens is kept beside
// them to tell a changed secret from the right one; previousTokenSecrets carry a rotation.

export interface TokenSecrets {
  /** Issues new tokens, and is checked first. */
  current: string;
  /** Older secrets whose tokens are still accepted (mail.previousTokenSecrets). */
  previous: string[];
}

const FINGERPRINT_KEY = 'reply_token_fingerprint';
const SECRET_KEY = 'reply_token_secret';

/** A short one-way mark of a secret: tells secrets apart without storing a configured one. */
export function secretFingerprint(secret: string): string {
  return createHmac('sha256', secret).update('dossier reply-token fingerprint').digest('hex').slice(0, 16);
}

const cache = new WeakMap<App['db'], Promise<TokenSecrets>>();

async function setting(q: Queryable, key: string): Promise<string | null> {
  return (await q.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key])).rows[0]?.value ?? null;
}

/** Whether any reply token was ever issued in this database (so a new secret would void them). */
export async function tokensIssued(q: Queryable): Promise<boolean> {
  const r = await q.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM reply_tokens) OR EXISTS (SELECT 1 FROM record_parties WHERE reply_token IS NOT NULL)
         OR EXISTS (SELECT 1 FROM settings WHERE key = $1) AS any`,
    [FINGERPRINT_KEY],
  );
  return r.rows[0]!.any;
}

/**
 * Why these secrets are not the ones that issued the tokens in circulation, or null when they are
 * (or nothing tells): the kept fingerprint; and, for a database that predates the fingerprint, a
 * generated secret in the database that a configured one silently replaced.
 */
export async function secretMismatch(q: Queryable, secrets: TokenSecrets): Promise<string | null> {
  const marks = [secrets.current, ...secrets.previous].map(secretFingerprint);
  const known = await setting(q, FINGERPRINT_KEY);
  if (known) return marks.includes(known) ? null : `The reply-token secret in use (fingerprint ${marks[0]}) is not the one that issued the tokens in circulation (fingerprint ${known}), nor one of mail.previousTokenSecrets.`;
  const stored = await setting(q, SECRET_KEY);
  if (stored && ![secrets.current, ...secrets.previous].includes(stored) && (await tokensIssued(q))) {
    return 'mail.tokenSecret is set, but the tokens in circulation were issued with the secret kept in the database (settings.reply_token_secret); add that one to mail.previousTokenSecrets to keep them working.';
  }
  return null;
}

const missing = (message: string) =>
  new DossierError('TOKEN_SECRET_MISSING', message, {
    hint: 'Restore the secret that issued the tokens: set mail.tokenSecret (DOSSIER_MAIL__TOKEN_SECRET) to it, or restore the settings row reply_token_secret. To start afresh on purpose (every token in circulation stops working), see README.md, "Security": rotating the token secret.',
  });

async function resolve(app: App): Promise<TokenSecrets> {
  const m = app.config.mail;
  const db = app.db;
  let current = m.tokenSecret;
  if (!current) {
    current = await setting(db, SECRET_KEY);
    if (!current) {
      if (await tokensIssued(db)) {
        throw missing('Reply tokens were issued in this database, but their secret is gone: mail.tokenSecret is not set and the database holds no reply_token_secret. A new secret would make every token in circulation fail.');
      }
      await db.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [SECRET_KEY, randomBytes(32).toString('base64url')]);
      current = (await setting(db, SECRET_KEY))!;
    }
  }
  const secrets: TokenSecrets = { current, previous: m.previousTokenSecrets.filter((s) => s !== current) };
  const problem = await secretMismatch(db, secrets);
  if (problem) throw missing(problem);
  const known = await setting(db, FINGERPRINT_KEY);
  const marks = [secrets.current, ...secrets.previous].map(secretFingerprint);
  // The mark follows the current secret once a rotation has been declared (the old one in previousTokenSecrets).
  if (known !== marks[0]) {
    await db.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [FINGERPRINT_KEY, marks[0]]);
  }
  return secrets;
}

/** The secrets (current first); TOKEN_SECRET_MISSING when tokens were issued and their secret is gone or changed. One read per process and database. */
export async function tokenSecrets(app: App): Promise<TokenSecrets> {
  let s = cache.get(app.db);
  if (!s) {
    s = resolve(app);
    cache.set(app.db, s);
    s.catch(() => cache.delete(app.db)); // a failed read (or a fixed configuration) is tried again next time
  }
  return s;
}

/** The secret that issues tokens (see tokenSecrets). */
export async function tokenSecret(app: App): Promise<string> {
  return (await tokenSecrets(app)).current;
}

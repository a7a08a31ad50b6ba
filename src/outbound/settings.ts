import { randomBytes } from 'node:crypto';
import type { App } from '../app.js';

// Once generated the secret never changes (changing it would void every token in circulation), so
// one read per process and database is enough; every incoming message needs it.
const secrets = new WeakMap<App['db'], Promise<string>>();

/** The reply-token secret: from the configuration, or generated once and kept in the database. */
export async function tokenSecret(app: App): Promise<string> {
  if (app.config.mail.tokenSecret) return app.config.mail.tokenSecret;
  let secret = secrets.get(app.db);
  if (!secret) {
    secret = (async () => {
      await app.db.query(`INSERT INTO settings (key, value) VALUES ('reply_token_secret', $1) ON CONFLICT DO NOTHING`, [randomBytes(32).toString('base64url')]);
      return (await app.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'reply_token_secret'`)).rows[0]!.value;
    })();
    secrets.set(app.db, secret);
    secret.catch(() => secrets.delete(app.db)); // a failed read is tried again next time
  }
  return secret;
}

import { randomBytes } from 'node:crypto';
import type { App } from '../app.js';

/** The reply-token secret: from the configuration, or generated once and kept in the database. */
export async function tokenSecret(app: App): Promise<string> {
  if (app.config.mail.tokenSecret) return app.config.mail.tokenSecret;
  await app.db.query(`INSERT INTO settings (key, value) VALUES ('reply_token_secret', $1) ON CONFLICT DO NOTHING`, [randomBytes(32).toString('base64url')]);
  return (await app.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'reply_token_secret'`)).rows[0]!.value;
}

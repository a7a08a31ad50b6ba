import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Db } from '../db/pool.js';
import { DossierError } from '../errors.js';

// Staff who sign in to the portal's read-only pages (`dossier user add|passwd`). Passwords are
// hashed with scrypt from node:crypto (memory-hard; OpenSSL's implementation): a random salt per
// password, the parameters kept in the hash so they can be raised later.

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

const scrypt = (password: string, salt: Buffer, keylen: number, o: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, o, (err, key) => (err ? reject(err) : resolve(key))));

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await scrypt(password, Buffer.from(m[4]!, 'base64'), expected.length, { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]), maxmem: 256 * 1024 * 1024 });
  return timingSafeEqual(key, expected);
}

function checkPassword(password: string): void {
  if (password.length < 10) {
    throw new DossierError('PASSWORD_INVALID', 'The password is shorter than 10 characters.', { hint: 'Choose a longer one (a phrase of several words is easy to remember).' });
  }
}

const LOGIN_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export async function addUser(db: Db, login: string, password: string, name?: string): Promise<{ login: string; name: string | null }> {
  if (!LOGIN_RE.test(login)) throw new DossierError('USAGE', `${JSON.stringify(login)} is not a login.`, { hint: 'Lower-case letters, digits, ".", "_" and "-", e.g. anna.petrova.' });
  checkPassword(password);
  const hash = await hashPassword(password);
  const r = await db.query('INSERT INTO staff_users (login, name, password_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [login, name ?? null, hash]);
  if (!r.rowCount) throw new DossierError('USER_EXISTS', `There is already a staff user ${login}.`, { hint: `Change the password with \`dossier user passwd ${login}\`.` });
  return { login, name: name ?? null };
}

export async function setPassword(db: Db, login: string, password: string): Promise<{ login: string }> {
  checkPassword(password);
  const r = await db.query('UPDATE staff_users SET password_hash = $2, updated_at = now() WHERE login = $1', [login, await hashPassword(password)]);
  if (!r.rowCount) throw new DossierError('USER_NOT_FOUND', `There is no staff user ${login}.`, { hint: `Add one with \`dossier user add ${login}\`.` });
  return { login };
}

/** The user when the password is right; null otherwise (unknown login or wrong password alike). */
export async function authenticate(db: Db, login: string, password: string): Promise<{ login: string; name: string | null } | null> {
  const row = (await db.query<{ login: string; name: string | null; password_hash: string }>('SELECT login, name, password_hash FROM staff_users WHERE login = $1', [login])).rows[0];
  // An unknown login still costs one hash, so that timing does not tell which logins exist.
  const ok = await verifyPassword(password, row?.password_hash ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  return row && ok ? { login: row.login, name: row.name } : null;
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { App } from '../app.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { tokenSecret, tokenSecrets } from '../outbound/settings.js';
import { issueReplyToken } from '../outbound/tokens.js';
import { asRef } from '../text/refs.js';

// Links for outside parties (issue 18). A link is bound like a reply token — to one record and one
// party — and rides on the same row of reply_tokens: making a link issues (or renews) the party's
// reply token, and `dossier share revoke` ends both at once (a revoked pair's next link is a new
// generation, and links of older generations stay refused).
//
// The reply token's 30 bits are enough where every guess costs an email; a web page can be asked
// thousands of times a second, so a link carries its own 128-bit HMAC over the ref, the party, the
// token's generation and the link's expiry. The link is the only credential: it is never written
// to logs (server.ts redacts it) and pages send no Referer (helmet's referrer policy).

export interface LinkClaims { ref: string; partyKey: string; generation: number; expiresAt: Date }

export type LinkStatus = 'ok' | 'expired' | 'revoked' | 'invalid';

export interface LinkCheck {
  status: LinkStatus;
  reason: string;
  claims: LinkClaims | null;
  record: { id: number; ref: string; type: string; title: string | null; status: string } | null;
  party: { id: number; key: string; name: string; kind: string; role: string; emails: string[] } | null;
}

const SIG_BYTES = 16; // 128 bits
const DAY_MS = 86_400_000;

function linkKey(secret: string): Buffer {
  // A key of its own, derived from the reply-token secret: a link signature is never a token.
  return createHmac('sha256', secret).update('dossier portal link key').digest();
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function sign(secret: string, payload: string): string {
  return b64(createHmac('sha256', linkKey(secret)).update(payload, 'utf8').digest().subarray(0, SIG_BYTES));
}

/** The opaque part of a link: base64url(ref|party|generation|expiry seconds) "." signature. */
export function encodeLink(secret: string, c: LinkClaims): string {
  const payload = b64(`${c.ref}|${c.partyKey}|${c.generation}|${Math.floor(c.expiresAt.getTime() / 1000)}`);
  return `${payload}.${sign(secret, payload)}`;
}

/** The claims of a well-signed link (expired or not), or null. */
export function decodeLink(secrets: string[], token: string): LinkClaims | null {
  if (typeof token !== 'string' || token.length > 400 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return null;
  const [payload, sig] = token.split('.') as [string, string];
  const given = Buffer.from(sig, 'base64url');
  // Only the canonical spelling: base64url's last character carries unused bits, and a link that
  // differs from a real one must not open it too.
  if (given.length !== SIG_BYTES || b64(given) !== sig || b64(Buffer.from(payload, 'base64url')) !== payload) return null;
  const ok = secrets.some((s) => timingSafeEqual(given, Buffer.from(sign(s, payload), 'base64url')));
  if (!ok) return null;
  const parts = Buffer.from(payload, 'base64url').toString('utf8').split('|');
  if (parts.length !== 4) return null;
  const [ref, partyKey, g, exp] = parts as [string, string, string, string];
  if (!asRef(ref) || !partyKey || !/^\d+$/.test(g) || !/^\d+$/.test(exp)) return null;
  return { ref, partyKey, generation: Number(g), expiresAt: new Date(Number(exp) * 1000) };
}

/** "14d", "12h", a date (2026-12-31) or an ISO time → the moment the link stops working. */
export function parseExpires(input: string | undefined, defaultDays: number, now = new Date()): Date {
  if (input === undefined) return new Date(now.getTime() + defaultDays * DAY_MS);
  const m = /^(\d+)\s*([dh])$/i.exec(input.trim());
  let at: Date | null = null;
  if (m) at = new Date(now.getTime() + Number(m[1]) * (m[2]!.toLowerCase() === 'd' ? DAY_MS : 3_600_000));
  else if (/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(input.trim())) at = new Date(input.trim().length === 10 ? `${input.trim()}T23:59:59Z` : input.trim());
  if (!at || Number.isNaN(at.getTime())) {
    throw new DossierError('USAGE', `--expires ${JSON.stringify(input)} is not a duration or a date.`, { hint: 'Give e.g. 14d, 48h or 2026-12-31.' });
  }
  if (at <= now) throw new DossierError('USAGE', `--expires ${input} is already past.`, { hint: 'Give a time in the future, e.g. 14d.' });
  return at;
}

export interface IssuedLink { ref: string; party: string; role: string; url: string; expiresAt: Date; page: 'status' | 'party' }

/** `dossier share link`: a link for one party of one record (its reply token issued or renewed). */
export async function createLink(app: App, refInput: string, partyKey: string, opts: { expires?: string | undefined; now?: Date } = {}): Promise<IssuedLink> {
  const ref = asRef(refInput);
  if (!ref) throw new DossierError('REF_INVALID', `${JSON.stringify(refInput)} is not a record reference.`, { hint: 'A reference looks like DL-2026-00042.' });
  const expiresAt = parseExpires(opts.expires, app.config.portal.linkDays, opts.now);
  const secret = await tokenSecret(app);
  return withTransaction(app.db, async (c) => {
    const link = (
      await c.query<{ record_id: number; party_id: number; role: string }>(
        `SELECT r.id AS record_id, p.id AS party_id, rp.role FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id
          WHERE r.ref = $1 AND p.key = $2 ORDER BY (rp.role = 'client') DESC LIMIT 1`,
        [ref, partyKey],
      )
    ).rows[0];
    if (!link) {
      const exists = (await c.query('SELECT 1 FROM records WHERE ref = $1', [ref])).rowCount;
      if (!exists) throw new DossierError('RECORD_NOT_FOUND', `There is no record ${ref}.`, { hint: 'See `dossier record list`.' });
      throw new DossierError('PARTY_NOT_LINKED', `${partyKey} is not a party of ${ref}.`, { hint: `Link it first (\`dossier record link ${ref} ${partyKey} --role …\`), or see \`dossier record show ${ref}\` for its parties.` });
    }
    await issueReplyToken(c, secret, { recordId: link.record_id, partyId: link.party_id, ref, partyKey });
    const generation = (await c.query<{ generation: number }>('SELECT generation FROM reply_tokens WHERE record_id = $1 AND party_id = $2', [link.record_id, link.party_id])).rows[0]!.generation;
    const token = encodeLink(secret, { ref, partyKey, generation, expiresAt });
    const url = `${app.config.portal.baseUrl.replace(/\/+$/, '')}/l/${token}`;
    return { ref, party: partyKey, role: link.role, url, expiresAt, page: link.role === 'client' ? 'status' : 'party' };
  });
}

/** What a link opens: ok, or why not (expired, revoked, invalid) in one sentence. */
export async function checkLink(app: App, q: Queryable, token: string, now = new Date()): Promise<LinkCheck> {
  const secrets = await tokenSecrets(app);
  const claims = decodeLink([secrets.current, ...secrets.previous], token);
  const none = { claims, record: null, party: null };
  if (!claims) return { status: 'invalid', reason: 'the link is not one Dossier made', ...none };
  const row = (
    await q.query<{ record_id: number; type: string; title: string | null; status: string; party_id: number; name: string; kind: string; emails: string[]; role: string; generation: number | null; revoked_at: Date | null }>(
      `SELECT r.id AS record_id, r.type, r.title, r.status, p.id AS party_id, p.name, p.kind, p.emails, rp.role, t.generation, t.revoked_at
         FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id
         LEFT JOIN reply_tokens t ON t.record_id = r.id AND t.party_id = p.id
        WHERE r.ref = $1 AND p.key = $2 ORDER BY (rp.role = 'client') DESC LIMIT 1`,
      [claims.ref, claims.partyKey],
    )
  ).rows[0];
  if (!row) return { status: 'invalid', reason: `${claims.partyKey} is no longer a party of ${claims.ref}`, ...none };
  const full = {
    claims,
    record: { id: Number(row.record_id), ref: claims.ref, type: row.type, title: row.title, status: row.status },
    party: { id: Number(row.party_id), key: claims.partyKey, name: row.name, kind: row.kind, role: row.role, emails: row.emails },
  };
  if (row.generation === null || claims.generation < row.generation) return { status: 'revoked', reason: 'the link was revoked (a newer one was issued since)', ...full };
  if (row.revoked_at) return { status: 'revoked', reason: `the link was revoked on ${row.revoked_at.toISOString().slice(0, 10)}`, ...full };
  if (now >= claims.expiresAt) return { status: 'expired', reason: `the link expired on ${claims.expiresAt.toISOString().slice(0, 10)}`, ...full };
  return { status: 'ok', reason: `link of ${claims.partyKey} for ${claims.ref}`, ...full };
}

/** A path for logs: a link's secret part replaced (/l/<anything> → /l/[link]), and the CSRF token of a query too. */
export function redactLinkPath(url: string): string {
  return url.replace(/\/l\/[^/?#]+/g, '/l/[link]').replace(/([?&]_csrf=)[^&#]*/g, '$1[token]');
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../app.js';
import { withTransaction, type Db, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { recordEvent } from '../records/events.js';
import type { TokenSecrets } from './settings.js';
import { asRef, REF_RE, TOKEN_RE } from '../text/refs.js';

// Reply tokens: a short HMAC that lets one outside party (say, a lawyer who is not a user) add
// documents to one record by replying. A bare reference number authorises nothing — refs are
// sequential and printed on paper — so the token binds the ref to the party it was sent to.
//
// Alphabet: RFC 4648 base32, lower case ("a–z" + "2–7"). The alternative offered in the brief,
// 'abcdefghjkmnpqrstuvwxyz23456789', has 31 symbols, not 32, so it cannot carry exactly 5 bits a
// character. RFC 4648 already leaves out the digits 0, 1, 8 and 9, so none of its letters has a
// look-alike digit inside the alphabet, and in lower case i/l/o are easy to tell apart. Tokens
// travel mostly by machine (the subject and the Reply-To address are kept by the mail client),
// so there is no attempt at guessing what a person meant when typing one by hand.
//
// 30 bits give about 10⁹ possibilities per (record, party). An attacker has to send one email per
// guess, and a guess that fails never acts, so this is plenty for a reply channel; it is not a
// password.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_LENGTH = 6; // 6 × 5 bits = 30 bits
// The ref format, the tags and the plus-addresses are text/refs.ts's; this module adds the HMAC.
function normaliseRef(ref: string): string {
  const r = asRef(ref);
  if (!r) throw new Error(`Not a record reference: ${JSON.stringify(ref)} (expected e.g. DL-2026-00042)`);
  return r;
}

function requireSecret(secret: string): void {
  // An empty secret would make every token public knowledge; that is a configuration fault.
  if (!secret) throw new Error('The reply-token secret is empty');
}

/**
 * A short token: HMAC-SHA256(secret, `${ref}\n${partyKey}`), first 30 bits as 6 base32 characters.
 * The ref is upper-cased first so that a ref read back from a lower-cased address gives the same token.
 * Generation 0 is the form every token had before revocation existed (so tokens in sent mail stay
 * readable); a token issued after a revocation is generation n > 0: HMAC of `${ref}\n${partyKey}\n${n}`.
 */
export function replyToken(secret: string, ref: string, partyKey: string, generation = 0): string {
  requireSecret(secret);
  if (!partyKey) throw new Error('The party key is empty');
  if (!Number.isInteger(generation) || generation < 0) throw new Error(`Not a token generation: ${generation}`);
  const mac = createHmac('sha256', secret).update(`${normaliseRef(ref)}\n${partyKey}${generation ? `\n${generation}` : ''}`, 'utf8').digest();
  // The first 32 bits, shifted down to the top 30, read as six 5-bit groups from the most significant.
  const bits = mac.readUInt32BE(0) >>> 2;
  let token = '';
  for (let i = TOKEN_LENGTH - 1; i >= 0; i--) token += ALPHABET[(bits >>> (i * 5)) & 31];
  return token;
}

/** Constant-time comparison; case-insensitive; false for malformed tokens or refs. Says only that the token was made for this ref and party, not that it is still valid: see checkReplyToken. */
export function verifyToken(secret: string, ref: string, partyKey: string, token: string, generation = 0): boolean {
  requireSecret(secret);
  if (typeof token !== 'string') return false;
  const given = token.trim().toLowerCase();
  if (!TOKEN_RE.test(given) || !partyKey || !asRef(ref)) return false;
  const expected = replyToken(secret, ref, partyKey, generation);
  // Both are exactly six ASCII characters here, so the buffers have equal length.
  return timingSafeEqual(Buffer.from(given, 'ascii'), Buffer.from(expected, 'ascii'));
}

export { parseReplyAddress, parseSubjectTags, subjectTag } from '../text/refs.js';

/** Plus-address for Reply-To: intake@dossier.example + DL-2026-00042 + k7f3q9 → "intake+dl-2026-00042.k7f3q9@dossier.example" */
export function replyAddress(intake: string, ref: string, token: string): string {
  const at = intake.lastIndexOf('@');
  const local = intake.slice(0, at);
  const domain = intake.slice(at + 1);
  if (at <= 0 || !domain || /[\s<>"+]/.test(intake)) {
    // A "+" already in the local part would make the address ambiguous to parse back.
    throw new Error(`The intake address must be a bare address without "+": ${JSON.stringify(intake)}`);
  }
  const t = token.toLowerCase();
  if (!TOKEN_RE.test(t)) throw new Error(`Not a reply token: ${JSON.stringify(token)}`);
  // Lower case because some mail systems lower-case local parts on the way; parsing is case-blind anyway.
  return `${local}+${normaliseRef(ref).toLowerCase()}.${t}@${domain}`;
}

// ── Tokens in circulation: issued, expiring, revocable (table reply_tokens) ──────────────────────

export type TokenStatus = 'ok' | 'expired' | 'revoked' | 'invalid';

export interface TokenCheck {
  status: TokenStatus;
  /** One sentence for the journal and the reply to the sender. */
  reason: string;
  /** Whose token it is (also for expired and revoked ones: the reply can say so); null when invalid. */
  partyKey: string | null;
  partyId: number | null;
  /** When it stops (or stopped) being accepted. */
  expiresAt?: Date;
}

export interface TokenPolicy {
  /** mail.tokenDays */
  days: number;
  now?: Date;
}

const DAY_MS = 86_400_000;

/**
 * The token to put in mail to this party about this record, recorded as issued now: its expiry
 * starts again, and after a revocation a new generation (a different token) is issued. Call it in
 * the transaction that queues the mail (packages/send.ts, share).
 */
export async function issueReplyToken(q: Queryable, secret: string, link: { recordId: number; partyId: number; ref: string; partyKey: string }): Promise<string> {
  const r = await q.query<{ generation: number }>(
    `INSERT INTO reply_tokens (record_id, party_id, generation, issued_at) VALUES ($1, $2, 0, now())
     ON CONFLICT (record_id, party_id) DO UPDATE
       SET generation = CASE WHEN reply_tokens.revoked_at IS NULL THEN reply_tokens.generation ELSE reply_tokens.generation + 1 END,
           revoked_at = NULL, revoked_by = NULL, issued_at = now()
     RETURNING generation`,
    [link.recordId, link.partyId],
  );
  const token = replyToken(secret, link.ref, link.partyKey, r.rows[0]!.generation);
  await q.query('UPDATE record_parties SET reply_token = $3 WHERE record_id = $1 AND party_id = $2', [link.recordId, link.partyId, token]);
  return token;
}

interface CirculatingRow {
  party_id: number;
  key: string;
  generation: number | null;
  issued_at: Date | null;
  revoked_at: Date | null;
  /** For a pair with no reply_tokens row (linked before tokens were recorded): the last mail, or the link. */
  fallback_issued: Date;
}

/**
 * What the router asks about a token found in a reply (subject tag or plus-address): ok, expired,
 * revoked or invalid, with whose it is. A token from an older generation is revoked; one made with
 * a previous secret (mail.previousTokenSecrets) is read like a current one.
 */
export async function checkReplyToken(q: Queryable, secrets: TokenSecrets, refInput: string, token: string, policy: TokenPolicy): Promise<TokenCheck> {
  const invalid = (reason: string): TokenCheck => ({ status: 'invalid', reason, partyKey: null, partyId: null });
  const ref = refInput.trim().toUpperCase();
  if (!REF_RE.test(ref)) return invalid(`${JSON.stringify(refInput)} is not a record reference`);
  if (typeof token !== 'string' || !TOKEN_RE.test(token.trim().toLowerCase())) return invalid(`${JSON.stringify(token)} is not a reply token`);
  const rows = (
    await q.query<CirculatingRow>(
      `SELECT p.id AS party_id, p.key, t.generation, t.issued_at, t.revoked_at,
              coalesce((SELECT max(o.created_at) FROM outbox o WHERE o.record_id = r.id AND o.party_id = p.id), min(rp.created_at)) AS fallback_issued
         FROM records r
         JOIN record_parties rp ON rp.record_id = r.id
         JOIN parties p ON p.id = rp.party_id
         LEFT JOIN reply_tokens t ON t.record_id = r.id AND t.party_id = p.id
        WHERE r.ref = $1
        GROUP BY r.id, p.id, p.key, t.generation, t.issued_at, t.revoked_at`,
      [ref],
    )
  ).rows;
  const now = policy.now ?? new Date();
  for (const row of rows) {
    const current = row.generation ?? 0;
    for (const secret of [secrets.current, ...secrets.previous]) {
      for (let g = current; g >= 0; g--) {
        if (!verifyToken(secret, ref, row.key, token, g)) continue;
        const whose = { partyKey: row.key, partyId: Number(row.party_id) };
        if (g < current) return { status: 'revoked', reason: `the reply token of ${row.key} for ${ref} was revoked (a newer one was issued since)`, ...whose };
        if (row.revoked_at) return { status: 'revoked', reason: `the reply token of ${row.key} for ${ref} was revoked on ${row.revoked_at.toISOString().slice(0, 10)}`, ...whose };
        const expiresAt = new Date((row.issued_at ?? row.fallback_issued).getTime() + policy.days * DAY_MS);
        if (now >= expiresAt) return { status: 'expired', reason: `the reply token of ${row.key} for ${ref} expired on ${expiresAt.toISOString().slice(0, 10)} (${policy.days} days after it was last sent)`, ...whose, expiresAt };
        return { status: 'ok', reason: `reply token of ${row.key} for ${ref}`, ...whose, expiresAt };
      }
    }
  }
  return invalid(rows.length ? `the token does not belong to any party of ${ref}` : `there is no record ${ref}`);
}

/** `dossier share revoke <ref> --party <key>`: the party's token for the record stops working now. */
export async function revokeReplyToken(db: Db, actor: Actor, refInput: string, partyKey: string): Promise<{ ref: string; party: string; generation: number; alreadyRevoked: boolean; revokedAt: Date }> {
  const ref = normaliseRef(refInput);
  return withTransaction(db, async (c) => {
    const link = (
      await c.query<{ record_id: number; party_id: number }>(
        `SELECT r.id AS record_id, p.id AS party_id FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id
          WHERE r.ref = $1 AND p.key = $2 LIMIT 1`,
        [ref, partyKey],
      )
    ).rows[0];
    if (!link) {
      throw new DossierError('TOKEN_NOT_FOUND', `${partyKey} is not a party of ${ref}, so it holds no reply token for it.`, { hint: `See \`dossier record show ${ref}\` for its parties.` });
    }
    const before = (await c.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM reply_tokens WHERE record_id = $1 AND party_id = $2 FOR UPDATE', [link.record_id, link.party_id])).rows[0];
    const r = await c.query<{ generation: number; revoked_at: Date }>(
      `INSERT INTO reply_tokens (record_id, party_id, generation, issued_at, revoked_at, revoked_by)
            VALUES ($1, $2, 0, coalesce((SELECT max(created_at) FROM outbox WHERE record_id = $1 AND party_id = $2), now()), now(), $3)
       ON CONFLICT (record_id, party_id) DO UPDATE SET revoked_at = coalesce(reply_tokens.revoked_at, now()), revoked_by = coalesce(reply_tokens.revoked_by, $3)
       RETURNING generation, revoked_at`,
      [link.record_id, link.party_id, actor.id],
    );
    const alreadyRevoked = Boolean(before?.revoked_at);
    if (!alreadyRevoked) await recordEvent(c, actor, { recordId: link.record_id, partyId: link.party_id, kind: 'reply_token_revoked', details: { generation: r.rows[0]!.generation } });
    return { ref, party: partyKey, generation: r.rows[0]!.generation, alreadyRevoked, revokedAt: r.rows[0]!.revoked_at };
  });
}

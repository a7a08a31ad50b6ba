import { createHmac, timingSafeEqual } from 'node:crypto';

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
const TOKEN_RE = /^[a-z2-7]{6}$/;
/** Refs as the records module issues them, e.g. DL-2026-00042 (compare REF_PATTERN in records). */
const REF_RE = /^[A-Z]{1,4}-\d{4}-\d{5,}$/;
const REF_SOURCE = '[A-Za-z]{1,4}-\\d{4}-\\d{5,}';
// Parsing is deliberately looser than verification: any six letters/digits are taken as a token
// candidate, and verifyToken decides. A damaged token then shows up as "token did not verify"
// rather than silently turning into an untagged reply.
const TOKEN_CANDIDATE = '[A-Za-z0-9]{6}';

function normaliseRef(ref: string): string {
  const r = ref.trim().toUpperCase();
  if (!REF_RE.test(r)) throw new Error(`Not a record reference: ${JSON.stringify(ref)} (expected e.g. DL-2026-00042)`);
  return r;
}

function requireSecret(secret: string): void {
  // An empty secret would make every token public knowledge; that is a configuration fault.
  if (!secret) throw new Error('The reply-token secret is empty');
}

/**
 * A short token: HMAC-SHA256(secret, `${ref}\n${partyKey}`), first 30 bits as 6 base32 characters.
 * The ref is upper-cased first so that a ref read back from a lower-cased address gives the same token.
 */
export function replyToken(secret: string, ref: string, partyKey: string): string {
  requireSecret(secret);
  if (!partyKey) throw new Error('The party key is empty');
  const mac = createHmac('sha256', secret).update(`${normaliseRef(ref)}\n${partyKey}`, 'utf8').digest();
  // The first 32 bits, shifted down to the top 30, read as six 5-bit groups from the most significant.
  const bits = mac.readUInt32BE(0) >>> 2;
  let token = '';
  for (let i = TOKEN_LENGTH - 1; i >= 0; i--) token += ALPHABET[(bits >>> (i * 5)) & 31];
  return token;
}

/** Constant-time comparison; case-insensitive; false for malformed tokens or refs. */
export function verifyToken(secret: string, ref: string, partyKey: string, token: string): boolean {
  requireSecret(secret);
  if (typeof token !== 'string') return false;
  const given = token.trim().toLowerCase();
  if (!TOKEN_RE.test(given) || !partyKey || !REF_RE.test(ref.trim().toUpperCase())) return false;
  const expected = replyToken(secret, ref, partyKey);
  // Both are exactly six ASCII characters here, so the buffers have equal length.
  return timingSafeEqual(Buffer.from(given, 'ascii'), Buffer.from(expected, 'ascii'));
}

/** "[DL-2026-00042]" or "[DL-2026-00042 k7f3q9]" */
export function subjectTag(ref: string, token?: string): string {
  const r = normaliseRef(ref);
  if (token === undefined) return `[${r}]`;
  const t = token.toLowerCase();
  if (!TOKEN_RE.test(t)) throw new Error(`Not a reply token: ${JSON.stringify(token)}`);
  return `[${r} ${t}]`;
}

// A tag: "[", optional spaces, the ref, optionally spaces + token, optional spaces, "]". \s also
// covers the tabs, CR/LF of an unfolded header and the no-break spaces some clients insert.
// Anchoring on "[" and "]" is what keeps "[ABCDE-2026-00042]" or "[DL-26-42]" from counting as tags.
const TAG_RE = new RegExp(`\\[\\s*(${REF_SOURCE})(?:\\s+(${TOKEN_CANDIDATE}))?\\s*\\]`, 'g');

/**
 * Every tag in a subject, in order, duplicates removed (a thread quoting "Re: [X] Re: [X]" is one tag).
 * Refs come back upper-case, tokens lower-case. Prefixes (Re:, Fwd:, AW:, Ответ:) need no handling:
 * the tag is searched for anywhere.
 */
export function parseSubjectTags(subject: string): { ref: string; token?: string }[] {
  const found: { ref: string; token?: string }[] = [];
  const seen = new Set<string>();
  for (const m of subject.matchAll(TAG_RE)) {
    const ref = m[1]!.toUpperCase();
    const token = m[2]?.toLowerCase();
    const key = `${ref} ${token ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    found.push(token === undefined ? { ref } : { ref, token });
  }
  return found;
}

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

const ADDRESS_TAG_RE = new RegExp(`^[^@+]*\\+(${REF_SOURCE})\\.(${TOKEN_CANDIDATE})@[^@]+$`);

/** The reverse, tolerant of case and of a display name around it: null when the address carries no tag. */
export function parseReplyAddress(address: string): { ref: string; token: string } | null {
  let a = address.trim();
  const angle = /<([^<>]*)>\s*$/.exec(a);
  if (angle) a = angle[1]!.trim();
  const m = ADDRESS_TAG_RE.exec(a);
  if (!m) return null;
  return { ref: m[1]!.toUpperCase(), token: m[2]!.toLowerCase() };
}

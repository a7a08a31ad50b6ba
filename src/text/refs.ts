// Record references and our subject tags, in one place: the records module issues refs in this
// format, intake finds them in subjects, plus-addresses and forwarded mail, and outgoing mail writes
// the tags. Pure functions, no imports.

/** DL-2026-00042: a 1–4 letter prefix, the year, a number of five digits at least. */
export const REF_SOURCE = '[A-Za-z]{1,4}-\\d{4}-\\d{5,}';
/** A whole ref as issued (capitals only). */
export const REF_RE = /^([A-Z]{1,4})-(\d{4})-(\d{5,})$/;
/** A reply token as issued (RFC 4648 base32, lower case, six characters). */
export const TOKEN_RE = /^[a-z2-7]{6}$/;
// Parsing is looser than verification: any six letters/digits are a token candidate, and the token
// check decides — a damaged token then reads as "did not verify", not as an untagged reply.
const TOKEN_CANDIDATE = '[A-Za-z0-9]{6}';

export function formatRef(prefix: string, year: number, seq: number): string {
  return `${prefix}-${year}-${String(seq).padStart(5, '0')}`;
}

/** The ref upper-cased and trimmed, or null when it is not one. */
export function asRef(input: string): string | null {
  const r = input.trim().toUpperCase();
  return REF_RE.test(r) ? r : null;
}

/** "[DL-2026-00042]" or "[DL-2026-00042 k7f3q9]" (the ref must be valid; the token, when given, too). */
export function subjectTag(ref: string, token?: string): string {
  const r = asRef(ref);
  if (!r) throw new Error(`Not a record reference: ${JSON.stringify(ref)} (expected e.g. DL-2026-00042)`);
  if (token === undefined) return `[${r}]`;
  const t = token.toLowerCase();
  if (!TOKEN_RE.test(t)) throw new Error(`Not a reply token: ${JSON.stringify(token)}`);
  return `[${r} ${t}]`;
}

// A tag: "[", optional spaces, the ref, optionally spaces + token, optional spaces, "]". \s also
// covers the tabs and CR/LF of an unfolded header and no-break spaces. Anchoring on the brackets keeps
// "[ABCDE-2026-00042]" or "[DL-26-42]" from counting.
const TAG_RE = new RegExp(`\\[\\s*(${REF_SOURCE})(?:\\s+(${TOKEN_CANDIDATE}))?\\s*\\]`, 'g');

export interface SubjectTag { ref: string; token?: string }

/** Every tag in a text, in order, duplicates removed; refs upper-case, tokens lower-case. */
export function parseSubjectTags(subject: string): SubjectTag[] {
  const found: SubjectTag[] = [];
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

/** The subject without our tags: a reply adds its own once. */
export function withoutTags(subject: string): string {
  return subject.replace(new RegExp(`\\s*\\[\\s*${REF_SOURCE}(?:\\s+${TOKEN_CANDIDATE})?\\s*\\]\\s*`, 'g'), ' ').replace(/\s+/g, ' ').trim();
}

const ADDRESS_TAG_RE = new RegExp(`^[^@+]*\\+(${REF_SOURCE})\\.(${TOKEN_CANDIDATE})@[^@]+$`);

/** "intake+dl-2026-00042.k7f3q9@host" (a display name around it allowed) → ref and token; null when untagged. */
export function parseReplyAddress(address: string): { ref: string; token: string } | null {
  let a = address.trim();
  const angle = /<([^<>]*)>\s*$/.exec(a);
  if (angle) a = angle[1]!.trim();
  const m = ADDRESS_TAG_RE.exec(a);
  return m ? { ref: m[1]!.toUpperCase(), token: m[2]!.toLowerCase() } : null;
}

/** Every ref a message names where we put them: subject tags and our plus-addresses. */
export function refsNamed(subject: string, addresses: string[]): string[] {
  const refs = parseSubjectTags(subject).map((t) => t.ref);
  for (const a of addresses) {
    const tagged = parseReplyAddress(a);
    if (tagged) refs.push(tagged.ref);
  }
  return [...new Set(refs)];
}

// Text cleaning shared by everything that reads what people typed (status replies, names, values).

/**
 * Characters that are invisible but split words ("одоб\u200Bрено"): soft hyphen, zero-width and
 * direction marks, word joiners, the BOM. Mail clients and pasted text carry them.
 */
export const INVISIBLE = /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/gu;

export function withoutInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/** For comparing names: lower case, ё as е, no quotes or invisible characters, single spaces. */
export function squash(text: string): string {
  return withoutInvisible(text).toLowerCase().replace(/ё/g, 'е').replace(/[«»"'“”„]/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * The first `n` UTF-16 units of a text, without ending on the first half of a surrogate pair: a lone
 * half is not JSON PostgreSQL accepts (jsonb refused a note of emoji cut at 10,000 units).
 */
export function cut(text: string, n: number): string {
  if (text.length <= n) return text;
  const code = text.charCodeAt(n - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

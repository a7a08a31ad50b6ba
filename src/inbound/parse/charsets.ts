// Bytes to text when the declared charset may be missing or wrong: UTF-8 checked first, then the
// Cyrillic single-byte charsets told apart by Russian letter frequencies, Western ones by what the
// letters make. Uses Node's TextDecoder (WHATWG labels, full ICU): no iconv-lite needed.

// Labels clients write that WHATWG TextDecoder does not know under that spelling.
export const CHARSET_ALIASES: Record<string, string> = {
  utf8: 'utf-8', 'unicode-1-1-utf-8': 'utf-8', cp1251: 'windows-1251', 'win-1251': 'windows-1251', win1251: 'windows-1251',
  'x-cp1251': 'windows-1251', 'windows1251': 'windows-1251', koi8r: 'koi8-r', 'koi8': 'koi8-r', cp866: 'ibm866', 'cp-866': 'ibm866',
  ascii: 'us-ascii', 'ansi_x3.4-1968': 'us-ascii', 'iso8859-1': 'iso-8859-1', latin1: 'iso-8859-1', 'iso8859-5': 'iso-8859-5',
};

export function normalizeCharset(label: string | null | undefined): string | null {
  if (!label) return null;
  const l = label.trim().replace(/^["']|["']$/g, '').toLowerCase();
  if (!l) return null;
  return CHARSET_ALIASES[l] ?? l;
}

export function decoderFor(label: string): InstanceType<typeof TextDecoder> | null {
  try {
    return new TextDecoder(label);
  } catch {
    return null; // not a label TextDecoder knows
  }
}

export function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

export function has8bit(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80) return true;
  return false;
}

/** Multi-byte UTF-8 sequences in the bytes: one could be chance, several are not. */
export function utf8Sequences(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b >= 0xc2 && b <= 0xf4) n++;
  return n;
}

export const COMMON_RUSSIAN = new Set('оеаинтс');

/**
 * Share of the most frequent Russian lower-case letters (о е а и н т с make up about half of all
 * letters of Russian text) among the non-ASCII characters. Decoded with the right Cyrillic charset,
 * real text scores around 0.4–0.5; decoded with the wrong one (KOI8-R read as windows-1251 turns
 * lower case into upper case, UTF-8 read as windows-1251 gives "Р", "С" and symbols) close to 0.
 */
export function russianScore(text: string): { score: number; nonAscii: number; asciiLetters: number } {
  let common = 0;
  let nonAscii = 0;
  let asciiLetters = 0;
  for (const ch of text) {
    if (ch > '\x7f') {
      nonAscii++;
      if (COMMON_RUSSIAN.has(ch)) common++;
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) asciiLetters++;
  }
  return { score: nonAscii === 0 ? 0 : common / nonAscii, nonAscii, asciiLetters };
}

export const SAMPLE_BYTES = 64 * 1024; // scoring looks at the start only: enough to tell, bounded on huge parts

export function guessCyrillic(bytes: Uint8Array): { charset: string; text: string; score: number } {
  const sample = bytes.subarray(0, SAMPLE_BYTES);
  let best = { charset: 'windows-1251', score: -1 };
  // windows-1251 first: on a tie (no Russian at all) it is the more common of the two.
  for (const charset of ['windows-1251', 'koi8-r']) {
    const score = russianScore(new TextDecoder(charset).decode(sample)).score;
    if (score > best.score) best = { charset, score };
  }
  return { charset: best.charset, score: best.score, text: new TextDecoder(best.charset).decode(bytes) };
}

/**
 * UTF-8 with some invalid bytes: the text with U+FFFD for them, when there are at least four valid
 * multi-byte sequences and no fewer than invalid ones. Real windows-1251 or KOI8-R text makes almost
 * no valid sequences (a capital letter would have to be followed by a symbol from 0x80–0xBF), so it
 * never passes; a UTF-8 text with a pasted or damaged run keeps its readable part.
 */
export function mostlyUtf8(bytes: Uint8Array): { text: string; bad: number } | null {
  const text = new TextDecoder('utf-8').decode(bytes);
  let bad = 0;
  let good = 0;
  for (const ch of text) {
    if (ch === '\ufffd') bad++;
    else if (ch > '\x7f') good++;
  }
  // U+FFFD written as such in the source (EF BF BD) is not a bad byte.
  const literal = Buffer.from(bytes).toString('latin1').split('\xef\xbf\xbd').length - 1;
  bad -= literal;
  good += literal;
  return bad > 0 && good >= 4 && good >= bad ? { text, bad } : null;
}

/** Letters in a word: a run of Latin and Cyrillic letters (digits and marks end nothing). */
const WORD = /[\p{L}\p{M}]+/gu;

/**
 * Words that mix Latin and Cyrillic letters in the windows-1251 reading ("Formaзгo", "HЕvard" are
 * Portuguese and Norwegian read with the wrong table), against words that are wholly Cyrillic.
 * More mixed than Cyrillic words: the text is Western, windows-1252.
 */
export function looksWestern(bytes: Uint8Array): boolean {
  const cyrillic = new TextDecoder('windows-1251').decode(bytes.subarray(0, SAMPLE_BYTES));
  let mixed = 0;
  let pure = 0;
  for (const [w] of cyrillic.matchAll(WORD)) {
    const hasCyr = /[\u0400-\u04ff]/.test(w);
    if (!hasCyr) continue;
    if (/[A-Za-z]/.test(w)) mixed++;
    else if (w.length >= 2) pure++;
  }
  return mixed > pure;
}

/** No usable declaration and not UTF-8: windows-1252 when the letters make Latin words, else the better Cyrillic table. */
export function guessSingleByte(bytes: Uint8Array): { charset: string; text: string; score: number } {
  if (looksWestern(bytes)) return { charset: 'windows-1252', text: new TextDecoder('windows-1252').decode(bytes), score: 0 };
  return guessCyrillic(bytes);
}

// Single-byte charsets whose declaration we second-guess: the Cyrillic ones get mixed up with each
// other and with UTF-8; the Western ones are what misconfigured servers stamp on everything.
export const CYRILLIC_SINGLE_BYTE = new Set(['windows-1251', 'koi8-r', 'koi8-u', 'ibm866', 'iso-8859-5', 'x-mac-cyrillic']);
export const WESTERN_SINGLE_BYTE = new Set(['windows-1252', 'iso-8859-15', 'iso-8859-2']);

/**
 * Bytes to text with a declared charset that may be missing or wrong. `note` explains any guess or
 * repair (it becomes a warning); null when the declaration was simply followed.
 */
export function decodeBytes(bytes: Uint8Array, declared: string | null): { text: string; charset: string; note: string | null } {
  const d = decodeDeclared(bytes, declared);
  // A NUL is never text, and PostgreSQL text and jsonb cannot hold one: left in a subject or a note
  // it made the transaction fail, so the message could never be processed (found by the
  // hostile-mail corpus). Every decoded text passes here — bodies, encoded-words, RFC 2231 names.
  return d.text.includes('\0') ? { ...d, text: d.text.replace(/\0/g, '') } : d;
}

export function decodeDeclared(bytes: Uint8Array, declared: string | null): { text: string; charset: string; note: string | null } {
  const label = normalizeCharset(declared);
  const wide = label !== null && /^(utf-16|utf-32|ucs-2|iso-2022)/.test(label);
  // Plain ASCII reads the same in all of them.
  if (!wide && !has8bit(bytes)) return { text: Buffer.from(bytes).toString('latin1'), charset: label ?? 'us-ascii', note: null };

  const utf8 = strictUtf8(bytes);
  if (label === 'utf-8') {
    if (utf8 !== null) return { text: utf8, charset: 'utf-8', note: null };
    // A stray byte (a cut multi-byte character, one pasted windows-1251 letter) must not turn a
    // whole UTF-8 part into windows-1251 mojibake: mostly-valid UTF-8 stays UTF-8 with U+FFFD.
    const loose = mostlyUtf8(bytes);
    if (loose !== null) return { text: loose.text, charset: 'utf-8', note: `${loose.bad} invalid byte sequence(s) in UTF-8 text replaced with U+FFFD` };
    const g = guessSingleByte(bytes);
    return { text: g.text, charset: g.charset, note: `declared UTF-8 but the bytes are not UTF-8; read as ${g.charset}` };
  }
  const decoder = label && label !== 'us-ascii' ? decoderFor(label) : null;
  if (!decoder) {
    const why = !label ? 'no charset declared for 8-bit text' : label === 'us-ascii' ? 'declared US-ASCII but the text is 8-bit' : `unknown charset "${label}"`;
    if (utf8 !== null) return { text: utf8, charset: 'utf-8', note: `${why}; read as UTF-8` };
    const loose = mostlyUtf8(bytes);
    if (loose !== null) return { text: loose.text, charset: 'utf-8', note: `${why}; read as UTF-8 (${loose.bad} invalid byte sequence(s) replaced with U+FFFD)` };
    const g = guessSingleByte(bytes);
    return { text: g.text, charset: g.charset, note: `${why}; read as ${g.charset} (${g.charset === 'windows-1252' ? 'the letters make Latin words' : 'by Russian letter frequencies'})` };
  }

  const encoding = decoder.encoding; // canonical: "iso-8859-1" comes back as "windows-1252"
  const asDeclared = decoder.decode(bytes);
  const followed = { text: asDeclared, charset: encoding, note: null };
  if (!CYRILLIC_SINGLE_BYTE.has(encoding) && !WESTERN_SINGLE_BYTE.has(encoding)) return followed;

  // Several valid multi-byte sequences do not happen by chance in single-byte text.
  if (utf8 !== null && utf8Sequences(bytes) >= 2) return { text: utf8, charset: 'utf-8', note: `declared ${label} but the bytes are UTF-8; repaired` };

  const declaredScore = russianScore(asDeclared.slice(0, SAMPLE_BYTES));
  const g = guessCyrillic(bytes);
  if (g.charset === encoding || declaredScore.nonAscii < 8) return followed; // too little text to overrule the sender
  // Western text (French, German) has a few accented letters among many ASCII ones, which
  // windows-1251 would also turn into Cyrillic letters; real Russian is mostly non-ASCII.
  if (WESTERN_SINGLE_BYTE.has(encoding) && declaredScore.nonAscii < declaredScore.asciiLetters) return followed;
  if (g.score >= 0.25 && g.score > 2 * declaredScore.score + 0.05) {
    return { text: g.text, charset: g.charset, note: `declared ${label} but the text reads as ${g.charset}; repaired` };
  }
  return followed;
}

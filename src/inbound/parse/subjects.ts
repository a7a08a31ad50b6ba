// Subject prefixes (Re:, Fwd:, Отв:, Пересл: …) and the markers mail gateways add.

// Reply and forward prefixes of mail clients in many languages; [n], (n) and ^n counters.
export const REPLY_WORDS = ['re', 'aw', 'sv', 'rif', 'ynt', 'odp', 'antw', 'res', 'отв', 'ответ'];
export const FORWARD_WORDS = ['fwd', 'fw', 'wg', 'tr', 'rv', 'vs', 'vb', 'pd', 'doorst', 'enc', 'пересл', 'переслано'];
export const PREFIX = String.raw`(${[...REPLY_WORDS, ...FORWARD_WORDS].join('|')})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]`;
export const PREFIX_RE = new RegExp(`^${PREFIX}`, 'iu');
// Markers mail gateways put around subjects; our own "[DL-2026-00042]" tag is never one of them.
export const MARKER = String.raw`(?:\[\s*(?:external|ext|spam|suspected spam|possible spam|probable spam|caution|warning|внешн(?:ий|ее|яя)(?: (?:письмо|почта|отправитель))?|спам|подозрение на спам)\s*\]|\(\s*(?:external|ext)\s*\)|\*{1,3}\s*spam\s*\*{1,3})`;
export const MARKER_START = new RegExp(`^${MARKER}`, 'iu');
export const MARKER_END = new RegExp(`\\s*${MARKER}$`, 'iu');
// All stacked prefixes and markers in one anchored pass (a loop of replaces would copy a 64 KB
// "Re: Re: Re: …" subject once per prefix).
export const LEADING = new RegExp(`^(?:\\s*(?:${MARKER}|${PREFIX}))+`, 'iu');

export function stripSubjectPrefixes(subject: string): string {
  const s = subject.replace(/\s+/g, ' ').trim();
  return s.replace(LEADING, '').replace(MARKER_END, '').replace(LEADING, '').trim();
}

/** 'forward' or 'reply' from the first prefix of the subject (after gateway markers); null without one. */
export function subjectKind(subject: string): 'forward' | 'reply' | null {
  let s = subject.replace(/\s+/g, ' ').trim();
  while (MARKER_START.test(s)) s = s.replace(MARKER_START, '').trim();
  const m = PREFIX_RE.exec(s);
  if (!m) return null;
  return FORWARD_WORDS.includes(m[1]!.toLowerCase()) ? 'forward' : 'reply';
}

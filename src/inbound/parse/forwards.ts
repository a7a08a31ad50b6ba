import type { Address, ForwardedMessage } from '../types.js';
import { dateOffset, looseDate, parseHeaderDate } from './dates.js';
import { parseAddressList } from './headers.js';
import { subjectKind } from './subjects.js';

// Forwards and replies inside the text: where the sender's own text ends and the forwarded
// message's header block (as each mail client prints it) begins.

export type FieldKey = 'from' | 'date' | 'to' | 'cc' | 'subject';
export const FIELD_NAMES: Record<string, FieldKey> = {
  from: 'from', 'от': 'from', 'от кого': 'from', von: 'from', de: 'from', 'отправитель': 'from',
  date: 'date', sent: 'date', 'дата': 'date', 'отправлено': 'date', gesendet: 'date', datum: 'date', 'envoyé': 'date',
  to: 'to', 'кому': 'to', an: 'to', 'à': 'to',
  cc: 'cc', 'копия': 'cc', kopie: 'cc',
  subject: 'subject', 'тема': 'subject', betreff: 'subject', objet: 'subject', asunto: 'subject',
};

export function headerField(line: string): { key: FieldKey; value: string } | null {
  // "From:", "*From:*" (Gmail bold), "От кого:" (mail.ru); the value may be empty.
  const m = /^\s*\*?([A-Za-zА-Яа-яЁёéà][A-Za-zА-Яа-яЁёéà -]{0,14}?)\*?\s*:\s*\*?\s*(.*)$/u.exec(line);
  if (!m) return null;
  const key = FIELD_NAMES[m[1]!.toLowerCase()];
  return key ? { key, value: m[2]!.trim() } : null;
}

// Separator lines that start a forwarded message, whatever the subject says.
export const FORWARD_SEPARATORS = [
  /^-{2,}\s*(forwarded message|пересылаемое сообщение|пересылаемое письмо|начало пересылаемого сообщения|начало переадресованного сообщения|weitergeleitete nachricht|message transféré)\s*-{2,}$/i,
  /^(begin forwarded message|начало переадресованного сообщения|начало пересылаемого сообщения)\s*:$/i,
  // The Bat!: "Это пересылаемое сообщение" / "This is a forwarded message", then От:/Кому:/Тема: without a date.
  /^(это пересылаемое сообщение|this is a forwarded message)$/i,
];
// Outlook's separator, used for replies and forwards alike.
export const ORIGINAL_SEPARATOR = /^-{3,}\s*(original message|исходное сообщение|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{3,}$/i;
export const FORWARD_END = /^(-{2,}\s*(конец пересылаемого сообщения|конец переадресованного сообщения|end forwarded message)\s*-{2,}|={2,}8<={2,}\s*(конец текста исходного сообщения|end of original message text)\s*={2,})$/i;
// The Bat! frames the forwarded text: "===8<===Текст исходного сообщения===" … "===8<===Конец текста…===".
export const BAT_TEXT_START = /^={2,}8<={2,}\s*(текст исходного сообщения|original message text)\s*={2,}$/i;

// "On Fri, Nov 21, 2026 at 10:15 AM Ivan <ivan@bank.ru> wrote:", "… Иван Петров пишет:", "… написал(а):"
export const WROTE_LINE = /^(on\b.{0,300}\bwrote|.{0,300}\s(написал|написала|написал\(а\)|пишет|wrote|schrieb))\s*:$/iu;
// "пт, 21 нояб. 2026 г. в 10:15, Иван <ivan@bank.ru>:" (Gmail RU), "21.11.2026, 10:15, "Иван" <ivan@ya.ru>:" (Yandex),
// "Пятница, 21 ноября 2026, 10:15 +03:00 от Иван <ivan@mail.ru>:" (mail.ru): a date with a time and a sender.
export const DATED_SENDER_LINE = /^(.{0,120}?\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:[AaPp][Mm]))?(?:\s*(?:[+-]\d{2}:?\d{2}|\(?(?:GMT|UTC|MSK)[+-]?\d{0,2}\)?))?)\s*,?\s*(?:от\s+|from\s+)?(.{1,200}?)\s*:$/u;

export function isAttribution(line: string): boolean {
  // Attribution lines are short and end with a colon; the cheap test keeps the regexes off long lines.
  if (line.length > 400 || !line.endsWith(':')) return false;
  if (WROTE_LINE.test(line)) return true;
  return datedSender(line) !== null;
}

/** The date and sender of a "date, sender:" line; both a year and an address are required, so that
 *  "Звоните с 9:00 до 18:00 от понедельника до пятницы:" is not taken for one. */
export function datedSender(line: string): { date: string; sender: string } | null {
  const m = DATED_SENDER_LINE.exec(line);
  if (!m || !/\d{4}/.test(m[1]!) || !/@/.test(m[2]!)) return null;
  return { date: m[1]!, sender: m[2]! };
}

/** A run of "Key: value" lines starting at i with from, subject and a date: a mail client's header block. */
export function isHeaderBlock(lines: string[], i: number): boolean {
  const seen = new Set<FieldKey>();
  for (let j = i; j < Math.min(lines.length, i + 10); j++) {
    const line = lines[j]!.trim();
    if (line === '') break;
    const f = headerField(line);
    if (f) seen.add(f.key);
    else if (j === i) return false;
  }
  return seen.has('from') && seen.has('subject') && seen.has('date');
}

export interface Marker { index: number; kind: 'forward' | 'reply'; headerStart: number }

/** The first place where the sender's own text ends: a forward separator, an attribution line, a header block. */
export function findMarker(lines: string[], subject: string): Marker | null {
  const bySubject = subjectKind(subject) === 'reply' ? 'reply' : 'forward';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^>\s?/, '').trim(); // Apple Mail quotes even the "Begin forwarded message:" line
    if (line === '') continue;
    if (FORWARD_SEPARATORS.some((re) => re.test(line))) return { index: i, kind: 'forward', headerStart: i + 1 };
    if (ORIGINAL_SEPARATOR.test(line)) return { index: i, kind: bySubject, headerStart: i + 1 };
    // OWA and newer Outlook: a line of underscores, then the header block.
    if (/^_{8,}$/.test(line) && isHeaderBlock(lines, nextNonEmpty(lines, i + 1))) return { index: i, kind: bySubject, headerStart: i + 1 };
    if (isHeaderBlock(lines, i)) return { index: i, kind: bySubject, headerStart: i };
    if (isAttribution(line)) return { index: i, kind: 'reply', headerStart: i + 1 };
    // Gmail wraps long attribution lines: "On …, Ivan Petrov <" / "ivan@bank.ru> wrote:".
    const next = lines[i + 1]?.trim();
    if (next && line.length > 30 && next.endsWith(':') && isAttribution(`${line} ${next}`)) return { index: i, kind: 'reply', headerStart: i + 2 };
  }
  return null;
}

export function nextNonEmpty(lines: string[], i: number): number {
  while (i < lines.length && lines[i]!.trim() === '') i++;
  return i;
}

/** The sender's own text: no quoted lines, no signature, no mobile footer, no trailing separator lines. */
export function cleanOwnText(lines: string[]): string {
  let own = lines.filter((l) => !/^\s*>/.test(l));
  const sig = own.findIndex((l) => l === '-- ' || l.trim() === '--');
  if (sig >= 0) own = own.slice(0, sig);
  const footer = /^(sent from my .{1,40}|отправлено (с|из) .{1,60}|get outlook for .{1,30}|получить outlook для .{1,30})$/i;
  while (own.length > 0 && (own[own.length - 1]!.trim() === '' || /^[_=\-–—*\s]+$/.test(own[own.length - 1]!) || footer.test(own[own.length - 1]!.trim()))) {
    own.pop();
  }
  return tidy(own);
}

/** Lines to text: no trailing spaces, at most one empty line in a row, trimmed. */
export function tidy(lines: string[]): string {
  return lines.map((l) => l.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

/** "Name <a@b>", "Name [mailto:a@b]", "\"Name\" <a@b>", "a@b". */
export function looseAddress(s: string): Address | null {
  const v = s.slice(0, 1000).replace(/\*/g, '').trim();
  if (!v) return null;
  const bracketed = /^(.*?)\s*[<[](?:mailto:)?([^\s<>[\]]+@[^\s<>[\]]+)[>\]]/i.exec(v);
  if (bracketed) {
    const name = bracketed[1]!.trim().replace(/^["']|["']$/g, '').trim();
    const address = bracketed[2]!;
    return { name: name === address ? '' : name, address };
  }
  const bare = /[^\s<>"',;:]+@[^\s<>"',;]+\.[^\s<>"',;]+/.exec(v);
  if (bare) return { name: v.replace(bare[0], '').replace(/^["'\s,]+|["'\s,]+$/g, ''), address: bare[0] };
  return { name: v.replace(/^["']|["']$/g, ''), address: '' };
}

export function looseAddressList(s: string): Address[] {
  // Outlook separates recipients with ";" (and writes names as "Last, First"); the others write
  // RFC 5322 lists with commas, which addressparser reads, quotes and all.
  let pieces: Address[];
  if (s.includes(';')) pieces = s.split(';').map((p) => looseAddress(p)).filter((a): a is Address => a !== null);
  else if ((s.match(/@/g) ?? []).length > 1) pieces = parseAddressList(s);
  else pieces = [looseAddress(s)].filter((a): a is Address => a !== null);
  return pieces.filter((a) => a.name !== '' || a.address !== '');
}

/** Reads the forwarded header block (and the mail.ru/Yandex "date, sender:" line) and the text after it. */
export function readInlineForward(lines: string[], start: number): ForwardedMessage {
  let body = lines.slice(start);
  // Apple Mail and some others quote the whole forwarded message with "> ".
  const nonEmpty = body.filter((l) => l.trim() !== '');
  if (nonEmpty.length > 0 && nonEmpty.every((l) => /^\s*>/.test(l))) body = body.map((l) => l.replace(/^\s*> ?/, ''));
  const end = body.findIndex((l) => FORWARD_END.test(l.trim()));
  if (end >= 0) body = body.slice(0, end);

  const fwd: ForwardedMessage = { from: null, to: [], date: null, dateOffset: null, subject: null, text: '', kind: 'inline', attachments: [] };
  let i = nextNonEmpty(body, 0);
  const first = body[i]?.trim() ?? '';
  const attribution = first.length <= 400 && first.endsWith(':') ? datedSender(first) : null;
  if (attribution && !headerField(body[i]!)) {
    fwd.date = looseDate(attribution.date);
    fwd.dateOffset = dateOffset(attribution.date);
    fwd.from = looseAddress(attribution.sender);
    i++;
  }
  let last: FieldKey | 'other' | null = null;
  for (; i < body.length; i++) {
    const line = body[i]!.trim();
    if (line === '') {
      if (last === null) continue; // blank lines before the header block
      break;
    }
    const f = headerField(line);
    if (!f && last !== null && /^[\p{L}][\p{L} -]{0,30}:\s/u.test(line)) {
      last = 'other'; // "Reply-To:", "Importance:", "Ответить:" — fields we do not keep
      continue;
    }
    if (!f) {
      if (last === 'to' || last === 'cc' || last === 'subject') {
        // Outlook wraps long To/Cc lines in plain text.
        if (last === 'subject') fwd.subject = `${fwd.subject ?? ''} ${line}`.trim();
        else if (last === 'to') fwd.to.push(...looseAddressList(line));
        continue;
      }
      if (last === null) break; // no header block at all: the text starts here
      break;
    }
    last = f.key;
    if (f.key === 'from') fwd.from = looseAddress(f.value) ?? fwd.from;
    else if (f.key === 'date') {
      fwd.date = looseDate(f.value) ?? parseHeaderDate(f.value);
      fwd.dateOffset = dateOffset(f.value);
    }
    else if (f.key === 'subject') fwd.subject = f.value;
    else if (f.key === 'to') fwd.to.push(...looseAddressList(f.value));
    // Cc: ForwardedMessage keeps no copy list
  }
  fwd.text = tidy(body.slice(i).filter((l) => !BAT_TEXT_START.test(l.trim())));
  return fwd;
}

/** Splits a body text into the sender's own text and an inline-forwarded message. */
export function splitText(text: string, subject: string): { own: string; forwarded: ForwardedMessage | null } {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const marker = findMarker(lines, subject);
  if (!marker) return { own: cleanOwnText(lines), forwarded: null };
  const own = cleanOwnText(lines.slice(0, marker.index));
  if (marker.kind === 'reply') return { own, forwarded: null };
  return { own, forwarded: readInlineForward(lines, marker.headerStart) };
}

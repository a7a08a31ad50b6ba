import addressparser from 'nodemailer/lib/addressparser';
import { LOOP_HEADER } from '../outbound/mime.js';
import { safeFileName, uniqueNames } from '../packages/zip.js';
import { sniffBuffer } from '../storage/sniff.js';
import type { Address, AutoKind, ForwardedMessage, IncomingAttachment, ParsedMessage } from './types.js';

// Incoming mail → ParsedMessage.
//
// Why our own MIME splitter and not mailparser: mailparser (3.9) rejects the whole message when a
// header is over its limit ("Max header size for a MIME node exceeded") or a multipart nests too
// deep ("Max allowed child nodes exceeded"), so a hostile or broken message would give nothing at
// all. It also decodes text with the declared charset and keeps no raw bytes, so a missing or
// wrong charset cannot be repaired afterwards, and its HTML-to-text wraps at 80 columns and
// upper-cases headings. MIME itself is simple enough: here the raw Buffer is split into a tree of
// parts synchronously, with hard caps (depth, part count, header sizes), every part keeping its
// raw bytes; decoding happens afterwards, part by part, where a charset can be second-guessed.
// Text decoding uses Node's TextDecoder (WHATWG labels, full ICU): no iconv-lite import needed.

export interface ParseLimits { maxAttachmentBytes: number; maxMessageBytes: number; maxAttachments: number }

const MAX_DEPTH = 50; // multipart/message nesting we look into; real mail stays under 10
const MAX_PARTS = 1000; // MIME parts per message
const MAX_HEADER_BYTES = 64 * 1024; // one header (after unfolding); a long References is a few KB
const MAX_HEADERS = 1000; // header fields per part
const MAX_WARNINGS = 100;
const MAX_HTML_CHARS = 5 * 1024 * 1024; // HTML converted to text (the rest is cut, with a warning)
const MB = 1024 * 1024;

interface Ctx { warnings: string[]; parts: number; depthWarned: boolean; partsWarned: boolean }

function warn(ctx: Ctx, message: string): void {
  if (ctx.warnings.length < MAX_WARNINGS && !ctx.warnings.includes(message)) ctx.warnings.push(message);
}

function sizeText(bytes: number): string {
  const mb = bytes / MB;
  if (mb >= 10) return `${Math.round(mb)} MB`;
  if (mb >= 0.1) return `${Math.round(mb * 10) / 10} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

// ───────────────────────────── charsets ─────────────────────────────

// Labels clients write that WHATWG TextDecoder does not know under that spelling.
const CHARSET_ALIASES: Record<string, string> = {
  utf8: 'utf-8', 'unicode-1-1-utf-8': 'utf-8', cp1251: 'windows-1251', 'win-1251': 'windows-1251', win1251: 'windows-1251',
  'x-cp1251': 'windows-1251', 'windows1251': 'windows-1251', koi8r: 'koi8-r', 'koi8': 'koi8-r', cp866: 'ibm866', 'cp-866': 'ibm866',
  ascii: 'us-ascii', 'ansi_x3.4-1968': 'us-ascii', 'iso8859-1': 'iso-8859-1', latin1: 'iso-8859-1', 'iso8859-5': 'iso-8859-5',
};

function normalizeCharset(label: string | null | undefined): string | null {
  if (!label) return null;
  const l = label.trim().replace(/^["']|["']$/g, '').toLowerCase();
  if (!l) return null;
  return CHARSET_ALIASES[l] ?? l;
}

function decoderFor(label: string): InstanceType<typeof TextDecoder> | null {
  try {
    return new TextDecoder(label);
  } catch {
    return null; // not a label TextDecoder knows
  }
}

function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function has8bit(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80) return true;
  return false;
}

/** Multi-byte UTF-8 sequences in the bytes: one could be chance, several are not. */
function utf8Sequences(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b >= 0xc2 && b <= 0xf4) n++;
  return n;
}

const COMMON_RUSSIAN = new Set('оеаинтс');

/**
 * Share of the most frequent Russian lower-case letters (о е а и н т с make up about half of all
 * letters of Russian text) among the non-ASCII characters. Decoded with the right Cyrillic charset,
 * real text scores around 0.4–0.5; decoded with the wrong one (KOI8-R read as windows-1251 turns
 * lower case into upper case, UTF-8 read as windows-1251 gives "Р", "С" and symbols) close to 0.
 */
function russianScore(text: string): { score: number; nonAscii: number; asciiLetters: number } {
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

const SAMPLE_BYTES = 64 * 1024; // scoring looks at the start only: enough to tell, bounded on huge parts

function guessCyrillic(bytes: Uint8Array): { charset: string; text: string; score: number } {
  const sample = bytes.subarray(0, SAMPLE_BYTES);
  let best = { charset: 'windows-1251', score: -1 };
  // windows-1251 first: on a tie (no Russian at all) it is the more common of the two.
  for (const charset of ['windows-1251', 'koi8-r']) {
    const score = russianScore(new TextDecoder(charset).decode(sample)).score;
    if (score > best.score) best = { charset, score };
  }
  return { charset: best.charset, score: best.score, text: new TextDecoder(best.charset).decode(bytes) };
}

// Single-byte charsets whose declaration we second-guess: the Cyrillic ones get mixed up with each
// other and with UTF-8; the Western ones are what misconfigured servers stamp on everything.
const CYRILLIC_SINGLE_BYTE = new Set(['windows-1251', 'koi8-r', 'koi8-u', 'ibm866', 'iso-8859-5', 'x-mac-cyrillic']);
const WESTERN_SINGLE_BYTE = new Set(['windows-1252', 'iso-8859-15', 'iso-8859-2']);

/**
 * Bytes to text with a declared charset that may be missing or wrong. `note` explains any guess or
 * repair (it becomes a warning); null when the declaration was simply followed.
 */
function decodeBytes(bytes: Uint8Array, declared: string | null): { text: string; charset: string; note: string | null } {
  const d = decodeDeclared(bytes, declared);
  // A NUL is never text, and PostgreSQL text and jsonb cannot hold one: left in a subject or a note
  // it made the transaction fail, so the message could never be processed (found by the
  // hostile-mail corpus). Every decoded text passes here — bodies, encoded-words, RFC 2231 names.
  return d.text.includes('\0') ? { ...d, text: d.text.replace(/\0/g, '') } : d;
}

function decodeDeclared(bytes: Uint8Array, declared: string | null): { text: string; charset: string; note: string | null } {
  const label = normalizeCharset(declared);
  const wide = label !== null && /^(utf-16|utf-32|ucs-2|iso-2022)/.test(label);
  // Plain ASCII reads the same in all of them.
  if (!wide && !has8bit(bytes)) return { text: Buffer.from(bytes).toString('latin1'), charset: label ?? 'us-ascii', note: null };

  const utf8 = strictUtf8(bytes);
  if (label === 'utf-8') {
    if (utf8 !== null) return { text: utf8, charset: 'utf-8', note: null };
    const g = guessCyrillic(bytes);
    return { text: g.text, charset: g.charset, note: `declared UTF-8 but the bytes are not UTF-8; read as ${g.charset}` };
  }
  const decoder = label && label !== 'us-ascii' ? decoderFor(label) : null;
  if (!decoder) {
    const why = !label ? 'no charset declared for 8-bit text' : label === 'us-ascii' ? 'declared US-ASCII but the text is 8-bit' : `unknown charset "${label}"`;
    if (utf8 !== null) return { text: utf8, charset: 'utf-8', note: `${why}; read as UTF-8` };
    const g = guessCyrillic(bytes);
    return { text: g.text, charset: g.charset, note: `${why}; read as ${g.charset} (by Russian letter frequencies)` };
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

// ───────────────────────────── headers ─────────────────────────────

type Header = [name: string, value: string];

const HEADER_LINE = /^([!-9;-~]+)[ \t]*:/;

/** Where the header block ends and the body starts (after the first empty line). */
function splitHead(buf: Buffer): { head: Buffer; body: Buffer } {
  // A part starting with an empty line has no headers; one starting with text that is no header
  // field (some broken generators) is all body.
  if (buf[0] === 0x0a) return { head: buf.subarray(0, 0), body: buf.subarray(1) };
  if (buf[0] === 0x0d && buf[1] === 0x0a) return { head: buf.subarray(0, 0), body: buf.subarray(2) };
  const firstLine = buf.subarray(0, Math.min(buf.length, 200)).toString('latin1').split(/\r?\n/)[0] ?? '';
  if (firstLine && !HEADER_LINE.test(firstLine) && !firstLine.startsWith('From ')) return { head: buf.subarray(0, 0), body: buf };

  const lf = buf.indexOf('\n\n', 0, 'latin1');
  const crlf = buf.indexOf('\n\r\n', 0, 'latin1');
  if (lf < 0 && crlf < 0) return { head: buf, body: buf.subarray(buf.length) };
  if (crlf < 0 || (lf >= 0 && lf < crlf)) return { head: buf.subarray(0, lf + 1), body: buf.subarray(lf + 2) };
  return { head: buf.subarray(0, crlf + 1), body: buf.subarray(crlf + 3) };
}

/**
 * Header fields, unfolded, names lower-cased. Reads line by line from the Buffer and copies at most
 * MAX_HEADER_BYTES of any one field, so a 2 MB header line costs one indexOf, not a 2 MB string.
 * Values keep RFC 2047 encoded-words; raw 8-bit bytes are decoded (UTF-8, or guessed Cyrillic).
 */
function parseHeaders(head: Buffer, ctx: Ctx): Header[] {
  const fields: { name: string; chunks: Buffer[]; size: number; cut: number }[] = [];
  let pos = 0;
  let tooMany = false;
  while (pos < head.length) {
    let end = head.indexOf(0x0a, pos);
    if (end < 0) end = head.length;
    let lineEnd = end;
    if (lineEnd > pos && head[lineEnd - 1] === 0x0d) lineEnd--;
    const lineStart = pos;
    pos = end + 1;
    if (lineEnd === lineStart) continue;
    const first = head[lineStart]!;
    const current = fields[fields.length - 1];
    if (first === 0x20 || first === 0x09) {
      if (!current) continue;
      const room = MAX_HEADER_BYTES - current.size;
      const take = Math.max(0, Math.min(room, lineEnd - lineStart));
      if (take > 0) current.chunks.push(head.subarray(lineStart, lineStart + take));
      current.size += take;
      current.cut += lineEnd - lineStart - take;
      continue;
    }
    // "From sender date" separator of mbox files, and anything else that is no header field.
    const nameEnd = head.subarray(lineStart, Math.min(lineEnd, lineStart + 200)).indexOf(0x3a); // only within the line
    if (nameEnd < 0) continue;
    const colon = lineStart + nameEnd;
    const name = head.subarray(lineStart, colon).toString('latin1').trim().toLowerCase();
    if (!/^[!-9;-~]+$/.test(name)) continue;
    if (fields.length >= MAX_HEADERS) {
      tooMany = true;
      continue;
    }
    const valueStart = colon + 1;
    const take = Math.min(MAX_HEADER_BYTES, lineEnd - valueStart);
    fields.push({ name, chunks: [head.subarray(valueStart, valueStart + take)], size: take, cut: lineEnd - valueStart - take });
  }
  if (tooMany) warn(ctx, `More than ${MAX_HEADERS} header fields in one part; the rest were not read.`);
  return fields.map((f): Header => {
    if (f.cut > 0) warn(ctx, `The ${f.name} header is ${sizeText(f.size + f.cut)} long; only the first ${sizeText(MAX_HEADER_BYTES)} were read.`);
    const bytes = Buffer.concat(f.chunks);
    let value: string;
    if (has8bit(bytes)) {
      // Raw UTF-8 in headers is allowed (RFC 6532); raw windows-1251/KOI8-R is not, but old clients send it.
      const d = decodeBytes(bytes, null);
      value = d.text;
      if (d.charset !== 'utf-8') warn(ctx, `The ${f.name} header has raw 8-bit text without a charset; read as ${d.charset}.`);
    } else value = bytes.toString('latin1').replace(/\0/g, ''); // NULs: see decodeBytes
    return [f.name, value.trim()];
  });
}

function headerMap(headers: Header[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const list = map.get(name);
    if (list) list.push(value);
    else map.set(name, [value]);
  }
  return map;
}

function firstHeader(headers: Header[], name: string): string | null {
  for (const [n, v] of headers) if (n === name) return v;
  return null;
}

/** RFC 2047 encoded-words. Adjacent words in one charset are joined before decoding, because some
 *  encoders split a multi-byte character between two words. */
function decodeWords(input: string, notes?: string[]): string {
  if (!input.includes('=?')) return input;
  const re = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  const out: string[] = [];
  let pending: { charset: string; bytes: Buffer[] } | null = null;
  let last = 0;
  const flush = (): void => {
    if (!pending) return;
    const d = decodeBytes(Buffer.concat(pending.bytes), pending.charset);
    if (d.note) notes?.push(d.note);
    out.push(d.text);
    pending = null;
  };
  for (const m of input.matchAll(re)) {
    const between = input.slice(last, m.index);
    // Whitespace between two encoded-words is folding, not text (RFC 2047 §6.2).
    if (!(pending && /^\s*$/.test(between))) {
      flush();
      out.push(between);
    }
    const charset = (m[1] ?? '').split('*')[0]!.toLowerCase(); // "utf-8*ru": RFC 2231 language suffix
    const data = m[3] ?? '';
    const bytes = (m[2] ?? '').toUpperCase() === 'B' ? Buffer.from(data, 'base64') : qDecode(data);
    if (pending && pending.charset === charset) pending.bytes.push(bytes);
    else {
      flush();
      pending = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  flush();
  out.push(input.slice(last));
  return out.join('');
}

function qDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}

/** "text/plain; charset=utf-8; name*0*=…": the value lower-cased and the parameters, RFC 2231 joined and decoded. */
function parseStructured(value: string): { value: string; params: Record<string, string> } {
  const semi = value.indexOf(';');
  const main = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const raw: [string, string][] = [];
  if (semi >= 0) {
    // An unterminated quote runs to the end (the `$`), so the regex never has to retry from there.
    const re = /;\s*([^=;\s]+)\s*=\s*("((?:[^"\\]|\\.)*)(?:"|$)|[^;]*)/g;
    for (const m of value.slice(semi).matchAll(re)) {
      // Only \" and \\ are unescaped: Windows clients send paths with bare backslashes.
      const v = m[3] !== undefined ? m[3].replace(/\\(["\\])/g, '$1') : (m[2] ?? '').trim();
      raw.push([(m[1] ?? '').toLowerCase(), v]);
    }
  }
  const params: Record<string, string> = {};
  const continued = new Map<string, { index: number; encoded: boolean; value: string }[]>();
  for (const [key, v] of raw) {
    const m = /^([^*]+)\*(?:(\d+)\*?)?$/.exec(key); // name*, name*0, name*0*
    if (!m) {
      // Encoded-words in file names are not allowed but are what Outlook sends; elsewhere (a boundary) they are literal.
      if (!(key in params)) params[key] = key === 'name' || key === 'filename' ? decodeWords(v) : v;
      continue;
    }
    const list = continued.get(m[1]!) ?? [];
    list.push({ index: m[2] === undefined ? 0 : Number(m[2]), encoded: key.endsWith('*'), value: v });
    continued.set(m[1]!, list);
  }
  for (const [name, pieces] of continued) {
    pieces.sort((a, b) => a.index - b.index);
    let charset: string | null = null;
    const encoded = pieces.some((p) => p.encoded);
    const bytes: Buffer[] = [];
    pieces.forEach((p, i) => {
      let v = p.value;
      if (p.encoded && i === 0) {
        // charset'language'value
        const q = /^([^']*)'[^']*'(.*)$/s.exec(v);
        if (q) {
          charset = q[1] || null;
          v = q[2] ?? '';
        }
      }
      bytes.push(p.encoded ? percentDecode(v) : Buffer.from(v, 'utf8'));
    });
    // The RFC 2231 form wins over a plain duplicate (filename="a.pdf"; filename*=utf-8''…).
    const joined = decodeBytes(Buffer.concat(bytes), charset ?? 'utf-8').text;
    params[name] = encoded ? joined : decodeWords(joined);
  }
  return { value: main, params };
}

function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes);
}

function toAddress(a: { name?: string; address?: string }): Address {
  return { name: decodeWords(a.name ?? '').replace(/\s+/g, ' ').trim(), address: (a.address ?? '').trim() };
}

function parseAddressList(value: string | null): Address[] {
  if (!value) return [];
  try {
    return addressparser(value, { flatten: true }).map(toAddress).filter((a) => a.address || a.name);
  } catch {
    return [];
  }
}

function messageIds(value: string | null): string[] {
  if (!value) return [];
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => `<${m[1]}>`);
  if (ids.length === 0 && /^[^\s<>]+@[^\s<>]+$/.test(value.trim())) ids.push(`<${value.trim()}>`);
  return [...new Set(ids)];
}

function parseHeaderDate(value: string | null): Date | null {
  if (!value) return null;
  const v = value.slice(0, 300); // dates are short; a long value is junk and must not cost time
  const t = Date.parse(v.replace(/\s*\([^()]*\)\s*$/, '')); // "… +0300 (MSK)"
  if (!Number.isNaN(t)) return new Date(t);
  return looseDate(v);
}

// ───────────────────────────── MIME tree ─────────────────────────────

interface Part {
  headers: Header[];
  type: string; // lower-case "text/plain"
  params: Record<string, string>;
  disposition: string | null;
  fileName: string | null;
  encoding: string;
  body: Buffer; // still transfer-encoded
  children: Part[];
  /** The message inside a message/rfc822 part. */
  message: Part | null;
  /** The input ended inside this part (a missing closing boundary): its content may be incomplete. */
  cut: boolean;
}

function parseEntity(buf: Buffer, depth: number, cut: boolean, ctx: Ctx, defaultType = 'text/plain', headersOnly = false): Part {
  ctx.parts++;
  const { head, body } = splitHead(buf);
  const headers = parseHeaders(head, ctx);
  const ct = parseStructured(firstHeader(headers, 'content-type') ?? '');
  const cd = parseStructured(firstHeader(headers, 'content-disposition') ?? '');
  let type = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(ct.value) ? ct.value : defaultType;
  let params = ct.params;
  if (type.startsWith('multipart/') && !params.boundary) {
    warn(ctx, `A ${type} part has no boundary; read as plain text.`);
    type = 'text/plain';
    params = { charset: params.charset ?? '' };
  }
  const part: Part = {
    headers, type, params,
    disposition: cd.value || null,
    fileName: cd.params.filename || ct.params.name || null,
    encoding: (firstHeader(headers, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase(),
    body: headersOnly ? buf.subarray(0, 0) : body,
    children: [], message: null, cut,
  };
  if (headersOnly) return part;

  const nested = type.startsWith('multipart/') || type === 'message/rfc822' || type === 'message/global';
  if (nested && depth >= MAX_DEPTH) {
    if (!ctx.depthWarned) warn(ctx, `MIME parts are nested more than ${MAX_DEPTH} levels deep; the deeper parts were not read.`);
    ctx.depthWarned = true;
    return part;
  }
  if (type.startsWith('multipart/')) {
    const { parts, closed } = splitMultipart(body, params.boundary!);
    if (!closed && parts.length > 0) warn(ctx, `The message ends before the closing boundary of a ${type} part: it is probably truncated.`);
    if (parts.length === 0) {
      // A wrong boundary: the text is still there, better read as text than lost.
      if (body.length > 0) warn(ctx, `The boundary of a ${type} part never occurs; its content was read as plain text.`);
      part.type = 'text/plain';
      part.params = {};
      return part;
    }
    const childType = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    for (let i = 0; i < parts.length; i++) {
      if (ctx.parts >= MAX_PARTS) {
        if (!ctx.partsWarned) warn(ctx, `The message has more than ${MAX_PARTS} MIME parts; the rest were not read.`);
        ctx.partsWarned = true;
        break;
      }
      part.children.push(parseEntity(parts[i]!, depth + 1, (cut || !closed) && i === parts.length - 1, ctx, childType));
    }
  } else if (type === 'message/rfc822' || type === 'message/global') {
    // Must be 7bit/8bit, but some gateways base64 it anyway.
    part.message = parseEntity(transferDecode(part, ctx).bytes, depth + 1, cut, ctx);
  }
  return part;
}

/** The parts of a multipart body; `closed` is false when the closing "--boundary--" never came. */
function splitMultipart(body: Buffer, boundary: string): { parts: Buffer[]; closed: boolean } {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  let start = -1;
  let pos = 0;
  while (pos <= body.length) {
    const i = body.indexOf(delimiter, pos);
    if (i < 0) break;
    pos = i + 1;
    if (i > 0 && body[i - 1] !== 0x0a) continue; // only at the start of a line
    let j = i + delimiter.length;
    const closing = body[j] === 0x2d && body[j + 1] === 0x2d;
    if (closing) j += 2;
    while (j < body.length && (body[j] === 0x20 || body[j] === 0x09)) j++; // transport padding
    if (j < body.length && body[j] !== 0x0d && body[j] !== 0x0a) continue; // "--boundary-2": a longer boundary
    if (start >= 0) {
      // The line break before the delimiter belongs to the delimiter.
      let end = i;
      if (end > start && body[end - 1] === 0x0a) end--;
      if (end > start && body[end - 1] === 0x0d) end--;
      parts.push(body.subarray(start, end));
    }
    if (closing) return { parts, closed: true };
    if (body[j] === 0x0d) j++;
    if (body[j] === 0x0a) j++;
    start = j;
    pos = j;
  }
  if (start >= 0) parts.push(body.subarray(start));
  return { parts, closed: false };
}

/** The part's bytes without Content-Transfer-Encoding; `broken` when base64 stops mid-group. */
function transferDecode(part: Part, ctx: Ctx): { bytes: Buffer; broken: boolean } {
  if (part.encoding === 'base64') {
    const clean = part.body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, '');
    // Some encoders pad every line ("…=\r\n…"); Node stops at the first "=", so each padded run
    // is decoded on its own. Whole base64 runs are a multiple of 4 characters with their padding:
    // anything else was cut off.
    const chunks: Buffer[] = [];
    let broken = false;
    for (const m of clean.matchAll(/([A-Za-z0-9+/]+)(=*)/g)) {
      if ((m[1]!.length + m[2]!.length) % 4 !== 0) broken = true;
      chunks.push(Buffer.from(m[1]!, 'base64'));
    }
    return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), broken };
  }
  if (part.encoding === 'quoted-printable') return { bytes: qpDecode(part.body), broken: false };
  if (!['7bit', '8bit', 'binary', ''].includes(part.encoding) && !part.encoding.startsWith('x-')) {
    warn(ctx, `Unknown Content-Transfer-Encoding "${part.encoding}"; the part was read as it is.`);
  }
  return { bytes: part.body, broken: false };
}

function qpDecode(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let n = 0;
  const hex = (c: number | undefined): number => {
    if (c === undefined) return -1;
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x37;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    // "=" + optional trailing spaces + line break: a soft line break.
    let j = i + 1;
    while (body[j] === 0x20 || body[j] === 0x09) j++;
    if (body[j] === 0x0d && body[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (body[j] === 0x0a) {
      i = j;
      continue;
    }
    const h = hex(body[i + 1]);
    const l = hex(body[i + 2]);
    if (h >= 0 && l >= 0) {
      out[n++] = h * 16 + l;
      i += 2;
    } else out[n++] = c; // a lone "=": keep it, as most readers do
  }
  return out.subarray(0, n);
}

// ───────────────────────────── text ─────────────────────────────

function partLabel(part: Part): string {
  return part.fileName ? `"${part.fileName}"` : part.type;
}

/** A text part's content as a string: transfer encoding, charset (checked), format=flowed. */
function partText(part: Part, ctx: Ctx): string {
  const { bytes, broken } = transferDecode(part, ctx);
  if (broken) warn(ctx, `The text of ${partLabel(part)} is cut off: the message is truncated.`);
  else if (part.cut) warn(ctx, `The text of ${partLabel(part)} may be incomplete: the message ends inside it.`);
  let charset = part.params.charset || null;
  if (!charset && part.type === 'text/html') {
    // An HTML part without a MIME charset often names it in a <meta> tag.
    const meta = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(bytes.subarray(0, 4096).toString('latin1'));
    charset = meta?.[1] ?? null;
  }
  const { text, note } = decodeBytes(bytes, charset);
  if (note) warn(ctx, `Text (${part.type}): ${note}.`);
  let out = text.replace(/\r\n?/g, '\n');
  if (part.type === 'text/plain' && (part.params.format ?? '').toLowerCase() === 'flowed') {
    out = unflow(out, (part.params.delsp ?? '').toLowerCase() === 'yes');
  }
  return out;
}

/** RFC 3676 format=flowed (Thunderbird's default): joins soft-broken lines back into paragraphs. */
function unflow(text: string, delsp: boolean): string {
  const out: string[] = [];
  let open: { depth: number; text: string } | null = null;
  for (const rawLine of text.split('\n')) {
    const depth = /^>*/.exec(rawLine)![0].length;
    let line = rawLine.slice(depth);
    if (line.startsWith(' ')) line = line.slice(1); // space-stuffing
    const soft = line.endsWith(' ') && line !== '-- ';
    if (soft && delsp) line = line.slice(0, -1);
    if (open && open.depth === depth) open.text += line;
    else {
      if (open) out.push('>'.repeat(open.depth) + (open.depth ? ' ' : '') + open.text);
      open = { depth, text: line };
    }
    if (!soft) {
      out.push('>'.repeat(open.depth) + (open.depth ? ' ' : '') + open.text);
      open = null;
    }
  }
  if (open) out.push('>'.repeat(open.depth) + (open.depth ? ' ' : '') + open.text);
  return out.join('\n');
}

const ENTITIES: Record<string, string> = {
  nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", laquo: '«', raquo: '»', ndash: '–', mdash: '—',
  hellip: '…', copy: '©', reg: '®', trade: '™', euro: '€', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', bdquo: '„',
  sbquo: '‚', numero: '№', middot: '·', bull: '•', shy: '', zwnj: '', zwj: '', lrm: '', rlm: '', thinsp: ' ', ensp: ' ',
  emsp: ' ', deg: '°', plusmn: '±', times: '×', sect: '§', para: '¶', rub: '₽',
};

/**
 * HTML to plain text for reading commands and forward headers: block elements become line breaks,
 * everything else is dropped. No wrapping, no upper-casing, no link targets (html-to-text, which
 * mailparser uses, wraps at 80 columns — fatal for "From: …" lines).
 */
function htmlToText(html: string): string {
  // Every pattern here is linear: "[^<>]*" instead of "[^>]*" and no lazy "[\s\S]*?" spans, so a
  // hostile HTML full of unclosed "<" or "<style" cannot make a regex rescan the rest each time.
  let s = dropBlocks(html);
  // Inside <pre> line breaks are real.
  let inPre = false;
  s = s
    .split(/(<\/?pre\b[^<>]*>)/i)
    .map((piece) => {
      if (/^<pre\b/i.test(piece)) inPre = true;
      else if (/^<\/pre\b/i.test(piece)) inPre = false;
      else if (inPre) return piece.replace(/\r?\n/g, '<br>');
      return piece;
    })
    .join('');
  s = s
    .replace(/\s+/g, ' ') // source line breaks are spaces in HTML
    .replace(/<br\b[^<>]*>/gi, '\n')
    .replace(/<\/?(p|div|tr|li|ul|ol|table|h[1-6]|blockquote|pre|hr|section|article|header|footer|dl|dt|dd|address|center)\b[^<>]*>/gi, '\n')
    .replace(/<\/t[dh]\s*>/gi, ' ')
    .replace(/<\/?[a-z!?][^<>]*>/gi, '') // tags; a lone "<" ("a < b") stays
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+\d*);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        // Not a surrogate: "&#xD800;" alone would be half a character, which jsonb refuses.
        return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code === 0xa0 ? 0x20 : code) : m;
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
  return s
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Drops comments and <head>, <style>, <script>, <title>, <xml> blocks; an unclosed one runs to the end, as in browsers. */
function dropBlocks(html: string): string {
  const out: string[] = [];
  const open = /<!--|<(head|style|script|title|xml)\b/gi;
  let pos = 0;
  for (;;) {
    open.lastIndex = pos;
    const m = open.exec(html);
    if (!m) break;
    out.push(html.slice(pos, m.index));
    const close = m[1] ? new RegExp(`</${m[1]}\\s*>`, 'gi') : /-->/g;
    close.lastIndex = m.index + m[0].length;
    const end = close.exec(html);
    pos = end ? end.index + end[0].length : html.length;
  }
  out.push(html.slice(pos));
  return out.join('');
}

const SIGNATURE_TYPES = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature', 'application/pgp-signature']);

/** Text parts shown as the message body (not attachments). */
function isBodyText(part: Part): boolean {
  return (part.type === 'text/plain' || part.type === 'text/html') && part.disposition !== 'attachment' && !part.fileName;
}

/** The body text of a part tree: text/plain preferred over HTML in alternatives; attachments and attached messages skipped. */
function bodyText(part: Part, ctx: Ctx): { text: string; html: boolean } {
  if (isBodyText(part)) {
    const t = partText(part, ctx);
    if (part.type !== 'text/html') return { text: t, html: false };
    if (t.length > MAX_HTML_CHARS) warn(ctx, `An HTML part is ${sizeText(t.length)} long; only its first ${sizeText(MAX_HTML_CHARS)} were converted to text.`);
    return { text: htmlToText(t.slice(0, MAX_HTML_CHARS)), html: true };
  }
  if (part.type === 'message/delivery-status' || part.type === 'message/global-delivery-status') {
    return { text: decodeBytes(transferDecode(part, ctx).bytes, 'utf-8').text.replace(/\r\n?/g, '\n'), html: false };
  }
  if (!part.type.startsWith('multipart/')) return { text: '', html: false };
  const results = part.children.map((c) => bodyText(c, ctx)).filter((r) => r.text.trim() !== '');
  if (part.type === 'multipart/alternative') {
    return results.find((r) => !r.html) ?? results[results.length - 1] ?? { text: '', html: false };
  }
  if (part.type === 'multipart/signed') return results[0] ?? { text: '', html: false };
  return { text: results.map((r) => r.text.replace(/\s+$/, '')).join('\n\n'), html: results.some((r) => r.html) };
}

// ───────────────────────────── subjects and automatic mail ─────────────────────────────

// Reply and forward prefixes of mail clients in many languages; [n], (n) and ^n counters.
const REPLY_WORDS = ['re', 'aw', 'sv', 'rif', 'ynt', 'odp', 'antw', 'res', 'отв', 'ответ'];
const FORWARD_WORDS = ['fwd', 'fw', 'wg', 'tr', 'rv', 'vs', 'vb', 'pd', 'doorst', 'enc', 'пересл', 'переслано'];
const PREFIX = String.raw`(${[...REPLY_WORDS, ...FORWARD_WORDS].join('|')})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]`;
const PREFIX_RE = new RegExp(`^${PREFIX}`, 'iu');
// Markers mail gateways put around subjects; our own "[DL-2026-00042]" tag is never one of them.
const MARKER = String.raw`(?:\[\s*(?:external|ext|spam|suspected spam|possible spam|probable spam|caution|warning|внешн(?:ий|ее|яя)(?: (?:письмо|почта|отправитель))?|спам|подозрение на спам)\s*\]|\(\s*(?:external|ext)\s*\)|\*{1,3}\s*spam\s*\*{1,3})`;
const MARKER_START = new RegExp(`^${MARKER}`, 'iu');
const MARKER_END = new RegExp(`\\s*${MARKER}$`, 'iu');
// All stacked prefixes and markers in one anchored pass (a loop of replaces would copy a 64 KB
// "Re: Re: Re: …" subject once per prefix).
const LEADING = new RegExp(`^(?:\\s*(?:${MARKER}|${PREFIX}))+`, 'iu');

export function stripSubjectPrefixes(subject: string): string {
  const s = subject.replace(/\s+/g, ' ').trim();
  return s.replace(LEADING, '').replace(MARKER_END, '').replace(LEADING, '').trim();
}

/** 'forward' or 'reply' from the first prefix of the subject (after gateway markers); null without one. */
function subjectKind(subject: string): 'forward' | 'reply' | null {
  let s = subject.replace(/\s+/g, ' ').trim();
  while (MARKER_START.test(s)) s = s.replace(MARKER_START, '').trim();
  const m = PREFIX_RE.exec(s);
  if (!m) return null;
  return FORWARD_WORDS.includes(m[1]!.toLowerCase()) ? 'forward' : 'reply';
}

const OUT_OF_OFFICE = /^(автоответ|автоматический ответ|нет на месте|отсутствую|out of (the )?office|automatic reply|auto[- ]?reply|autoreply|abwesenheitsnotiz|automatische antwort|réponse automatique)(?![\p{L}\p{N}])/iu; // \b does not work after Cyrillic
const BOUNCE_SUBJECT = /^(undeliver(ed|able)|delivery (status notification|failure|has failed|failed)|mail delivery (failed|failure)|returned mail|failure notice|non[- ]?delivery|недоставленное сообщение|не удалось доставить|сообщение не доставлено|ошибка доставки)/iu;
const DAEMON_LOCAL = /^(mailer-daemon|mailerdaemon|mail-daemon|postmaster|mail\.delivery\.subsystem)$/i;
const NOREPLY_LOCAL = /^(no-?reply|do-?not-?reply|donotreply|noreply-.*|notifications?|auto(mailer|responder)?|robot|daemon)$/i;

export function classifyAuto(headers: Map<string, string[]>, subject: string, from: string | null, contentType: string): AutoKind {
  const first = (name: string): string | null => {
    const v = headers.get(name)?.[0];
    return v === undefined ? null : v.trim().toLowerCase();
  };
  const address = from ? (/<([^<>]*)>/.exec(from)?.[1] ?? from).trim() : '';
  const local = address.includes('@') ? address.slice(0, address.lastIndexOf('@')) : address;
  const ct = parseStructured(contentType);
  const reportType = (ct.params['report-type'] ?? '').toLowerCase();
  const subj = subject.replace(/\s+/g, ' ').trim().replace(MARKER_START, '').trim();

  if (ct.value === 'multipart/report' && reportType.includes('delivery-status')) return 'bounce';
  if (local && DAEMON_LOCAL.test(local)) return 'bounce';
  // A null sender (Return-Path: <>) is what bounces are sent with.
  if (first('return-path') === '<>' && BOUNCE_SUBJECT.test(subj)) return 'bounce';

  if (ct.value === 'multipart/report' && reportType.includes('disposition-notification')) return 'auto-reply'; // read receipts
  const autoSubmitted = first('auto-submitted');
  if (autoSubmitted !== null && !autoSubmitted.startsWith('no')) return 'auto-reply';
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder']) {
    const v = first(name);
    if (v !== null && v !== 'no' && v !== 'false') return 'auto-reply';
  }
  const precedence = first('precedence');
  if (precedence === 'auto_reply') return 'auto-reply';
  // Exchange stamps X-Auto-Response-Suppress on its own automatic mail, but Outlook also puts it on
  // some ordinary mail: only together with a robot sender.
  if (headers.has('x-auto-response-suppress') && local && NOREPLY_LOCAL.test(local)) return 'auto-reply';
  if (OUT_OF_OFFICE.test(subj)) return 'auto-reply';

  if (precedence === 'bulk' || precedence === 'junk' || precedence === 'list') return 'list';
  if (headers.has('list-id') || headers.has('list-unsubscribe')) return 'list';
  return null;
}

// ───────────────────────────── forwards and replies in text ─────────────────────────────

type FieldKey = 'from' | 'date' | 'to' | 'cc' | 'subject';
const FIELD_NAMES: Record<string, FieldKey> = {
  from: 'from', 'от': 'from', 'от кого': 'from', von: 'from', de: 'from', 'отправитель': 'from',
  date: 'date', sent: 'date', 'дата': 'date', 'отправлено': 'date', gesendet: 'date', datum: 'date', 'envoyé': 'date',
  to: 'to', 'кому': 'to', an: 'to', 'à': 'to',
  cc: 'cc', 'копия': 'cc', kopie: 'cc',
  subject: 'subject', 'тема': 'subject', betreff: 'subject', objet: 'subject', asunto: 'subject',
};

function headerField(line: string): { key: FieldKey; value: string } | null {
  // "From:", "*From:*" (Gmail bold), "От кого:" (mail.ru); the value may be empty.
  const m = /^\s*\*?([A-Za-zА-Яа-яЁёéà][A-Za-zА-Яа-яЁёéà -]{0,14}?)\*?\s*:\s*\*?\s*(.*)$/u.exec(line);
  if (!m) return null;
  const key = FIELD_NAMES[m[1]!.toLowerCase()];
  return key ? { key, value: m[2]!.trim() } : null;
}

// Separator lines that start a forwarded message, whatever the subject says.
const FORWARD_SEPARATORS = [
  /^-{2,}\s*(forwarded message|пересылаемое сообщение|пересылаемое письмо|начало пересылаемого сообщения|начало переадресованного сообщения|weitergeleitete nachricht|message transféré)\s*-{2,}$/i,
  /^(begin forwarded message|начало переадресованного сообщения|начало пересылаемого сообщения)\s*:$/i,
  // The Bat!: "Это пересылаемое сообщение" / "This is a forwarded message", then От:/Кому:/Тема: without a date.
  /^(это пересылаемое сообщение|this is a forwarded message)$/i,
];
// Outlook's separator, used for replies and forwards alike.
const ORIGINAL_SEPARATOR = /^-{3,}\s*(original message|исходное сообщение|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{3,}$/i;
const FORWARD_END = /^(-{2,}\s*(конец пересылаемого сообщения|конец переадресованного сообщения|end forwarded message)\s*-{2,}|={2,}8<={2,}\s*(конец текста исходного сообщения|end of original message text)\s*={2,})$/i;
// The Bat! frames the forwarded text: "===8<===Текст исходного сообщения===" … "===8<===Конец текста…===".
const BAT_TEXT_START = /^={2,}8<={2,}\s*(текст исходного сообщения|original message text)\s*={2,}$/i;

// "On Fri, Nov 21, 2026 at 10:15 AM Ivan <ivan@bank.ru> wrote:", "… Иван Петров пишет:", "… написал(а):"
const WROTE_LINE = /^(on\b.{0,300}\bwrote|.{0,300}\s(написал|написала|написал\(а\)|пишет|wrote|schrieb))\s*:$/iu;
// "пт, 21 нояб. 2026 г. в 10:15, Иван <ivan@bank.ru>:" (Gmail RU), "21.11.2026, 10:15, "Иван" <ivan@ya.ru>:" (Yandex),
// "Пятница, 21 ноября 2026, 10:15 +03:00 от Иван <ivan@mail.ru>:" (mail.ru): a date with a time and a sender.
const DATED_SENDER_LINE = /^(.{0,120}?\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:[AaPp][Mm]))?(?:\s*(?:[+-]\d{2}:?\d{2}|\(?(?:GMT|UTC|MSK)[+-]?\d{0,2}\)?))?)\s*,?\s*(?:от\s+|from\s+)?(.{1,200}?)\s*:$/u;

function isAttribution(line: string): boolean {
  // Attribution lines are short and end with a colon; the cheap test keeps the regexes off long lines.
  if (line.length > 400 || !line.endsWith(':')) return false;
  if (WROTE_LINE.test(line)) return true;
  return datedSender(line) !== null;
}

/** The date and sender of a "date, sender:" line; both a year and an address are required, so that
 *  "Звоните с 9:00 до 18:00 от понедельника до пятницы:" is not taken for one. */
function datedSender(line: string): { date: string; sender: string } | null {
  const m = DATED_SENDER_LINE.exec(line);
  if (!m || !/\d{4}/.test(m[1]!) || !/@/.test(m[2]!)) return null;
  return { date: m[1]!, sender: m[2]! };
}

/** A run of "Key: value" lines starting at i with from, subject and a date: a mail client's header block. */
function isHeaderBlock(lines: string[], i: number): boolean {
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

interface Marker { index: number; kind: 'forward' | 'reply'; headerStart: number }

/** The first place where the sender's own text ends: a forward separator, an attribution line, a header block. */
function findMarker(lines: string[], subject: string): Marker | null {
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

function nextNonEmpty(lines: string[], i: number): number {
  while (i < lines.length && lines[i]!.trim() === '') i++;
  return i;
}

/** The sender's own text: no quoted lines, no signature, no mobile footer, no trailing separator lines. */
function cleanOwnText(lines: string[]): string {
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
function tidy(lines: string[]): string {
  return lines.map((l) => l.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  'янв': 1, 'фев': 2, 'мар': 3, 'апр': 4, 'май': 5, 'мая': 5, 'июн': 6, 'июл': 7, 'авг': 8, 'сен': 9, 'окт': 10, 'ноя': 11, 'дек': 12,
  'mär': 3, mai: 5, okt: 10, dez: 12,
};

/**
 * Dates as mail clients print them in forward and reply headers ("Friday, November 21, 2026 10:15 AM",
 * "21 ноября 2026 г. 10:15", "пт, 21 нояб. 2026 г. в 10:15", "21.11.2026, 10:15", RFC 5322).
 * Without a zone the time is taken as Moscow time (UTC+3), where nearly all our correspondents are.
 */
function looseDate(value: string): Date | null {
  const s = value.slice(0, 300); // keeps the month-name regexes linear on junk
  let y = 0;
  let mo = 0;
  let d = 0;
  const iso = /(\d{4})-(\d{2})-(\d{2})/.exec(s);
  const numeric = /\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b/.exec(s);
  if (iso) [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (numeric) {
    [d, mo, y] = [Number(numeric[1]), Number(numeric[2]), Number(numeric[3])];
    if (mo > 12 && d <= 12) [d, mo] = [mo, d]; // 11/21/2026
  } else {
    for (const m of s.matchAll(/(\d{1,2})\.?\s+([A-Za-zА-Яа-яЁёä]{3,})\.?,?\s+(\d{4})/gu)) {
      const month = MONTHS[m[2]!.slice(0, 3).toLowerCase()];
      if (month) {
        [d, mo, y] = [Number(m[1]), month, Number(m[3])];
        break;
      }
    }
    if (!y) {
      for (const m of s.matchAll(/([A-Za-z]{3,})\.?\s+(\d{1,2}),?\s+(\d{4})/g)) {
        const month = MONTHS[m[1]!.slice(0, 3).toLowerCase()];
        if (month) {
          [d, mo, y] = [Number(m[2]), month, Number(m[3])];
          break;
        }
      }
    }
  }
  if (!y || mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  let hh = 0;
  let mm = 0;
  let ss = 0;
  let offset = 180; // minutes east of UTC: Moscow
  const time = /\b(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?/.exec(s);
  if (time) {
    [hh, mm, ss] = [Number(time[1]), Number(time[2]), Number(time[3] ?? 0)];
    const ampm = time[4]?.toLowerCase();
    if (ampm === 'pm' && hh < 12) hh += 12;
    if (ampm === 'am' && hh === 12) hh = 0;
    const rest = s.slice(time.index + time[0].length);
    const zone = /^\s*\(?(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?/i.exec(rest);
    if (zone) offset = (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3] ?? 0));
    else if (/^\s*\(?(GMT|UTC|UT|Z)\b/i.test(rest)) offset = 0;
  }
  if (hh > 23 || mm > 59 || ss > 60) return null;
  const t = Date.UTC(y, mo - 1, d, hh, mm, ss) - offset * 60_000;
  return Number.isNaN(t) ? null : new Date(t);
}

/** "Name <a@b>", "Name [mailto:a@b]", "\"Name\" <a@b>", "a@b". */
function looseAddress(s: string): Address | null {
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

function looseAddressList(s: string): Address[] {
  // Outlook separates recipients with ";" (and writes names as "Last, First"); the others write
  // RFC 5322 lists with commas, which addressparser reads, quotes and all.
  let pieces: Address[];
  if (s.includes(';')) pieces = s.split(';').map((p) => looseAddress(p)).filter((a): a is Address => a !== null);
  else if ((s.match(/@/g) ?? []).length > 1) pieces = parseAddressList(s);
  else pieces = [looseAddress(s)].filter((a): a is Address => a !== null);
  return pieces.filter((a) => a.name !== '' || a.address !== '');
}

/** Reads the forwarded header block (and the mail.ru/Yandex "date, sender:" line) and the text after it. */
function readInlineForward(lines: string[], start: number): ForwardedMessage {
  let body = lines.slice(start);
  // Apple Mail and some others quote the whole forwarded message with "> ".
  const nonEmpty = body.filter((l) => l.trim() !== '');
  if (nonEmpty.length > 0 && nonEmpty.every((l) => /^\s*>/.test(l))) body = body.map((l) => l.replace(/^\s*> ?/, ''));
  const end = body.findIndex((l) => FORWARD_END.test(l.trim()));
  if (end >= 0) body = body.slice(0, end);

  const fwd: ForwardedMessage = { from: null, to: [], date: null, subject: null, text: '', kind: 'inline', attachments: [] };
  let i = nextNonEmpty(body, 0);
  const first = body[i]?.trim() ?? '';
  const attribution = first.length <= 400 && first.endsWith(':') ? datedSender(first) : null;
  if (attribution && !headerField(body[i]!)) {
    fwd.date = looseDate(attribution.date);
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
    else if (f.key === 'date') fwd.date = looseDate(f.value) ?? parseHeaderDate(f.value);
    else if (f.key === 'subject') fwd.subject = f.value;
    else if (f.key === 'to') fwd.to.push(...looseAddressList(f.value));
    // Cc: ForwardedMessage keeps no copy list
  }
  fwd.text = tidy(body.slice(i).filter((l) => !BAT_TEXT_START.test(l.trim())));
  return fwd;
}

/** Splits a body text into the sender's own text and an inline-forwarded message. */
function splitText(text: string, subject: string): { own: string; forwarded: ForwardedMessage | null } {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const marker = findMarker(lines, subject);
  if (!marker) return { own: cleanOwnText(lines), forwarded: null };
  const own = cleanOwnText(lines.slice(0, marker.index));
  if (marker.kind === 'reply') return { own, forwarded: null };
  return { own, forwarded: readInlineForward(lines, marker.headerStart) };
}

// ───────────────────────────── bounces ─────────────────────────────

function walk(part: Part, visit: (p: Part, parent: Part | null) => boolean | void, parent: Part | null = null): void {
  if (visit(part, parent) === false) return;
  for (const c of part.children) walk(c, visit, part);
  if (part.message) walk(part.message, visit, part);
}

/** Header groups of a message/delivery-status body, separated by empty lines. */
function statusGroups(text: string): Map<string, string>[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((group) => {
      const map = new Map<string, string>();
      let last: string | null = null;
      for (const line of group.split('\n')) {
        if (/^[ \t]/.test(line) && last) map.set(last, `${map.get(last)} ${line.trim()}`);
        else {
          const m = /^([!-9;-~]+)\s*:\s*(.*)$/.exec(line);
          if (m) {
            last = m[1]!.toLowerCase();
            if (!map.has(last)) map.set(last, m[2]!.trim());
          }
        }
      }
      return map;
    })
    .filter((m) => m.size > 0);
}

function stripType(v: string | undefined): string {
  // "rfc822; ivanov@bank.ru", "smtp; 550 5.1.1 …"
  return (v ?? '').replace(/^[\w-]+\s*;\s*/, '').replace(/^<|>$/g, '').trim();
}

function readBounce(root: Part, text: string, ctx: Ctx): NonNullable<ParsedMessage['bounce']> {
  const result: NonNullable<ParsedMessage['bounce']> = { originalMessageId: null, recipients: [], status: null, diagnostic: null };
  const found: { status: Part | null; original: Part | null } = { status: null, original: null };
  walk(root, (p) => {
    if (!found.status && (p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status')) found.status = p;
    else if (!found.original && (p.type === 'message/rfc822' || p.type === 'message/global') && p.message) found.original = p.message;
    else if (!found.original && (p.type === 'text/rfc822-headers' || p.type === 'message/global-headers')) {
      found.original = parseEntity(transferDecode(p, ctx).bytes, MAX_DEPTH, false, ctx, 'text/plain', true);
    }
  });
  if (found.status) {
    const groups = statusGroups(decodeBytes(transferDecode(found.status, ctx).bytes, 'utf-8').text);
    let other: Map<string, string> | null = null;
    for (const g of groups) {
      const id = g.get('original-message-id') ?? g.get('x-original-message-id');
      if (id && !result.originalMessageId) result.originalMessageId = messageIds(id)[0] ?? null;
      const recipient = stripType(g.get('final-recipient') ?? g.get('original-recipient'));
      if (!recipient) continue;
      if (!(g.get('action') ?? 'failed').toLowerCase().startsWith('failed')) {
        other ??= g; // "delayed", "relayed": not failed (yet)
        continue;
      }
      result.recipients.push(recipient);
      if (result.status === null) {
        result.status = g.get('status') ?? null;
        result.diagnostic = stripType(g.get('diagnostic-code')) || null;
      }
    }
    // A delay report has no failed recipient; its 4.x.x status still tells what happened.
    if (result.recipients.length === 0 && other) {
      result.status = other.get('status') ?? null;
      result.diagnostic = stripType(other.get('diagnostic-code')) || null;
    }
  }
  if (found.original && !result.originalMessageId) result.originalMessageId = messageIds(firstHeader(found.original.headers, 'message-id'))[0] ?? null;
  if (found.status) return result;

  // Non-DSN bounce (qmail, exim, old Exchange): a human-readable report, then a copy of our message.
  const lines = text.split('\n');
  const copyAt = lines.findIndex((l) => /^[\s>_-]*(this is a copy|below this line|original message|returned message|копия|исходное сообщение|received:|return-path:)/i.test(l));
  const report = copyAt >= 0 ? lines.slice(0, copyAt) : lines;
  if (!result.originalMessageId) {
    const m = /^[\s>]*message-id:\s*(<[^<>\s]+>)/im.exec(text);
    result.originalMessageId = m?.[1] ?? null;
  }
  for (const line of report) {
    if (line.length > 300) continue;
    const m = /^\s*<?([^\s<>@:]+@[^\s<>:]+\.[A-Za-z0-9-]+)>?:?\s*(\(.*\))?\s*$/.exec(line) ?? /^\s*<([^\s<>@]+@[^\s<>]+)>:/.exec(line);
    if (m && !result.recipients.includes(m[1]!)) result.recipients.push(m[1]!);
  }
  const reportText = report.join('\n');
  result.status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reportText)?.[1] ?? null;
  const diag = report.find((l) => /\b[45]\d\d[ -]|said:|smtp error|user unknown|mailbox (is )?(full|unavailable)/i.test(l));
  result.diagnostic = diag ? diag.trim().slice(0, 500) : null;
  return result;
}

// ───────────────────────────── attachments ─────────────────────────────

const EXTENSIONS: Record<string, string> = {
  'application/pdf': 'pdf', 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif', 'image/tiff': 'tif', 'image/webp': 'webp',
  'image/heic': 'heic', 'image/bmp': 'bmp', 'text/plain': 'txt', 'text/html': 'html', 'text/calendar': 'ics', 'message/rfc822': 'eml',
  'application/zip': 'zip', 'application/msword': 'doc', 'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
};

interface Candidate { part: Part; content: Buffer; originalName: string | null; inline: boolean; owner: 'top' | 'forwarded'; broken: boolean }

/** Leaf parts that are files: everything that is not body text, skipping signatures and returned bounce content. */
function collectCandidates(root: Part, owner: Candidate['owner'], skip: Set<Part>, ctx: Ctx, out: Candidate[]): void {
  walk(root, (p, parent) => {
    if (skip.has(p)) return false;
    if (p.type.startsWith('multipart/')) return;
    if (p.type === 'message/rfc822' || p.type === 'message/global') {
      // The attached message itself is kept too (with its headers it is the evidence), its own
      // files only through `forwarded` (when it is the forwarded one) — never walked here.
      out.push({ part: p, content: transferDecode(p, ctx).bytes, originalName: p.fileName, inline: false, owner, broken: false });
      return false;
    }
    if (isBodyText(p) || p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status') return;
    if (parent?.type === 'multipart/signed' && SIGNATURE_TYPES.has(p.type)) return;
    const { bytes, broken } = transferDecode(p, ctx);
    const cid = firstHeader(p.headers, 'content-id');
    const inline =
      (p.disposition === 'inline' && !!cid) ||
      (!p.disposition && !!cid && parent?.type === 'multipart/related') ||
      p.type === 'text/calendar';
    out.push({ part: p, content: bytes, originalName: p.fileName, inline, owner, broken });
  });
}

function fallbackName(c: Candidate, sniffed: string): string {
  if (c.part.message) {
    const subject = decodeWords(firstHeader(c.part.message.headers, 'subject') ?? '').trim();
    return `${subject || 'message'}.eml`;
  }
  const ext = EXTENSIONS[c.part.type] ?? EXTENSIONS[sniffed];
  return ext ? `file.${ext}` : 'file';
}


async function buildAttachments(candidates: Candidate[], limits: ParseLimits, ctx: Ctx): Promise<{ top: IncomingAttachment[]; forwarded: IncomingAttachment[] }> {
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const label = c.originalName ? `"${c.originalName}"` : `An unnamed ${c.part.type} attachment`;
    if (c.broken && c.part.cut) {
      warn(ctx, `${label} is cut off (the message is truncated); not kept.`);
      continue;
    }
    if (c.part.cut) warn(ctx, `${label} may be incomplete: the message ends inside it.`);
    else if (c.broken) warn(ctx, `${label} has malformed base64; its content may be damaged.`);
    if (c.content.length > limits.maxAttachmentBytes) {
      warn(ctx, `${label}: ${sizeText(c.content.length)} is over the ${sizeText(limits.maxAttachmentBytes)} limit for one file; not kept.`);
      continue;
    }
    kept.push(c);
  }
  // Documents before signature images when the count limit bites.
  const byPriority = [...kept.filter((c) => !c.inline), ...kept.filter((c) => c.inline)];
  const allowed = new Set(byPriority.slice(0, limits.maxAttachments));
  for (const c of byPriority.slice(limits.maxAttachments)) {
    warn(ctx, `"${c.originalName ?? c.part.type}": over the limit of ${limits.maxAttachments} attachments per message; not kept.`);
  }
  const chosen = kept.filter((c) => allowed.has(c));
  const sniffed = await Promise.all(chosen.map((c) => sniffBuffer(c.content)));
  // Unique across the message and its forwarded part: they may end up in one folder.
  const names = uniqueNames(chosen.map((c, i) => safeFileName(c.originalName ?? fallbackName(c, sniffed[i]!))));
  const result = { top: [] as IncomingAttachment[], forwarded: [] as IncomingAttachment[] };
  chosen.forEach((c, i) => {
    let contentType = sniffed[i]!;
    // An attached message is text to file-type; it parsed as a message, so say so.
    if (c.part.message && contentType === 'text/plain') contentType = 'message/rfc822';
    result[c.owner].push({
      fileName: names[i]!, originalName: c.originalName, contentType, declaredType: c.part.type,
      size: c.content.length, content: c.content, inline: c.inline,
    });
  });
  return result;
}

// ───────────────────────────── the message ─────────────────────────────

function forwardedFromRfc822(msg: Part, ctx: Ctx): ForwardedMessage {
  const from = parseAddressList(firstHeader(msg.headers, 'from'))[0] ?? null;
  const subject = firstHeader(msg.headers, 'subject');
  return {
    from,
    to: parseAddressList(firstHeader(msg.headers, 'to')),
    date: parseHeaderDate(firstHeader(msg.headers, 'date')),
    subject: subject === null ? null : decodeWords(subject).replace(/\s+/g, ' ').trim(),
    text: bodyText(msg, ctx).text.replace(/\n{3,}/g, '\n\n').trim(),
    kind: 'rfc822',
    attachments: [],
  };
}

function checkLimits(limits: ParseLimits): void {
  for (const key of ['maxAttachmentBytes', 'maxMessageBytes', 'maxAttachments'] as const) {
    const v = limits?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`parseMessage: limits.${key} must be a non-negative number, not ${String(v)}`);
  }
}

export async function parseMessage(raw: Buffer, limits: ParseLimits): Promise<ParsedMessage> {
  if (!Buffer.isBuffer(raw)) throw new TypeError('parseMessage: raw must be a Buffer');
  checkLimits(limits);
  const ctx: Ctx = { warnings: [], parts: 0, depthWarned: false, partsWarned: false };
  const headersOnly = raw.length > limits.maxMessageBytes;
  if (headersOnly) warn(ctx, `The message is ${sizeText(raw.length)}, over the ${sizeText(limits.maxMessageBytes)} limit: only its headers were read.`);

  const root = parseEntity(raw, 0, false, ctx, 'text/plain', headersOnly);
  const headers = headerMap(root.headers);
  const get = (name: string): string | null => firstHeader(root.headers, name);
  const all = (name: string): string[] => headers.get(name) ?? [];

  const notes: string[] = [];
  const subject = decodeWords(get('subject') ?? '', notes).replace(/\s+/g, ' ').trim();
  for (const note of notes) warn(ctx, `Subject: ${note}.`);
  const from = parseAddressList(get('from'))[0] ?? null;
  const auto = classifyAuto(headers, subject, from?.address ?? null, get('content-type') ?? '');

  const deliveredTo: string[] = [];
  for (const name of ['delivered-to', 'x-original-to', 'x-delivered-to', 'envelope-to']) {
    for (const v of all(name)) {
      for (const a of v.split(/[,\s]+/)) {
        const address = a.replace(/^<|>$/g, '').trim();
        if (address.includes('@') && !deliveredTo.includes(address)) deliveredTo.push(address);
      }
    }
  }

  const text = headersOnly ? '' : bodyText(root, ctx).text.replace(/\n{3,}/g, '\n\n').trim();

  const split = splitText(text, subject);
  let forwarded: ForwardedMessage | null = null;
  let attachments: IncomingAttachment[] = [];
  let bounce: ParsedMessage['bounce'] = null;
  if (auto === 'bounce') {
    // What a bounce carries (its report, our returned message and files) is ours, not a forward
    // or documents: only the delivery details are read.
    bounce = headersOnly ? { originalMessageId: null, recipients: [], status: null, diagnostic: null } : readBounce(root, text, ctx);
  } else if (!headersOnly) {
    // An attached message/rfc822 (Outlook "forward as attachment") wins over an inline forward.
    // The parts of a report (a read receipt's) are not documents either.
    const found: { rfc822: Part | null } = { rfc822: null };
    const reportParts = new Set<Part>();
    walk(root, (p) => {
      if (reportParts.has(p)) return false;
      if (p.type === 'multipart/report') for (const c of p.children) if (!isBodyText(c) && !c.type.startsWith('multipart/')) reportParts.add(c);
      if (!found.rfc822 && (p.type === 'message/rfc822' || p.type === 'message/global') && p.message) found.rfc822 = p;
    });
    const candidates: Candidate[] = [];
    collectCandidates(root, 'top', reportParts, ctx, candidates);
    if (found.rfc822?.message) collectCandidates(found.rfc822.message, 'forwarded', new Set(), ctx, candidates);
    const built = await buildAttachments(candidates, limits, ctx);
    attachments = built.top;
    forwarded = found.rfc822?.message ? forwardedFromRfc822(found.rfc822.message, ctx) : split.forwarded;
    if (forwarded) forwarded.attachments = built.forwarded;
  }

  return {
    messageId: messageIds(get('message-id'))[0] ?? null,
    inReplyTo: messageIds(get('in-reply-to'))[0] ?? null,
    references: messageIds(all('references').join(' ')).slice(0, 500),
    from,
    replyTo: parseAddressList(get('reply-to')),
    to: all('to').flatMap((v) => parseAddressList(v)),
    cc: all('cc').flatMap((v) => parseAddressList(v)),
    deliveredTo,
    subject,
    subjectCore: stripSubjectPrefixes(subject),
    date: parseHeaderDate(get('date')),
    ownText: split.own,
    text,
    forwarded,
    attachments,
    auto,
    bounce,
    ours: headers.has(LOOP_HEADER.toLowerCase()),
    authResults: all('authentication-results').map((v) => v.replace(/\s+/g, ' ').trim()),
    warnings: ctx.warnings,
    headers,
  };
}

import addressparser from 'nodemailer/lib/addressparser';
import type { Address } from '../types.js';
import { decodeBytes, has8bit } from './charsets.js';
import { MAX_HEADER_BYTES, MAX_HEADERS, sizeText, warn, type Ctx } from './context.js';

// Header fields: the header block, unfolding, RFC 2047 encoded-words, RFC 2231 parameters,
// addresses and Message-IDs.

export type Header = [name: string, value: string];

export const HEADER_LINE = /^([!-9;-~]+)[ \t]*:/;

/** Where the header block ends and the body starts (after the first empty line). */
export function splitHead(buf: Buffer): { head: Buffer; body: Buffer } {
  // A part starting with an empty line has no headers; one starting with text that is no header
  // field (some broken generators) is all body.
  if (buf[0] === 0x0a) return { head: buf.subarray(0, 0), body: buf.subarray(1) };
  if (buf[0] === 0x0d && buf[1] === 0x0a) return { head: buf.subarray(0, 0), body: buf.subarray(2) };
  const firstLine = buf.subarray(0, Math.min(buf.length, 200)).toString('latin1').split(/\r?\n/)[0] ?? '';
  if (firstLine && !HEADER_LINE.test(firstLine) && !firstLine.startsWith('From ')) return { head: buf.subarray(0, 0), body: buf };

  // Whichever blank line comes first ends the head. The second search stops where the first one
  // matched: in a CRLF message a search for "\n\n" would otherwise read the whole rest of the
  // part, for every part (5,000 nested parts made that quadratic).
  // The first line's ending says which search goes first.
  const nl = buf.indexOf(0x0a);
  let crlf: number;
  let lf: number;
  if (nl > 0 && buf[nl - 1] === 0x0d) {
    crlf = buf.indexOf('\n\r\n', 0, 'latin1');
    lf = (crlf >= 0 ? buf.subarray(0, crlf + 1) : buf).indexOf('\n\n', 0, 'latin1');
  } else {
    lf = buf.indexOf('\n\n', 0, 'latin1');
    crlf = (lf >= 0 ? buf.subarray(0, lf + 2) : buf).indexOf('\n\r\n', 0, 'latin1');
  }
  if (lf < 0 && crlf < 0) return { head: buf, body: buf.subarray(buf.length) };
  if (crlf < 0 || (lf >= 0 && lf < crlf)) return { head: buf.subarray(0, lf + 1), body: buf.subarray(lf + 2) };
  return { head: buf.subarray(0, crlf + 1), body: buf.subarray(crlf + 3) };
}

/**
 * Header fields, unfolded, names lower-cased. Reads line by line from the Buffer and copies at most
 * MAX_HEADER_BYTES of any one field, so a 2 MB header line costs one indexOf, not a 2 MB string.
 * Values keep RFC 2047 encoded-words; raw 8-bit bytes are decoded (UTF-8, or guessed Cyrillic).
 */
export function parseHeaders(head: Buffer, ctx: Ctx): Header[] {
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
    } else value = bytes.toString('latin1');
    // Control characters mean nothing in a header: NULs cannot be stored (see decodeBytes), and one
    // inside an encoded-word ("=?UTF-8?B?0J7Q\x0btC+?=") would keep it from being decoded at all.
    return [f.name, value.replace(CONTROL, '').trim()];
  });
}

export function headerMap(headers: Header[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const list = map.get(name);
    if (list) list.push(value);
    else map.set(name, [value]);
  }
  return map;
}

export function firstHeader(headers: Header[], name: string): string | null {
  for (const [n, v] of headers) if (n === name) return v;
  return null;
}

// C0 controls except tab, LF and CR, and DEL.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

const STATEFUL = /^(iso-2022|utf-7|hz-gb|x-utf-7)/i;

/** RFC 2047 encoded-words. Adjacent words in one charset are joined before decoding, because some
 *  encoders split a multi-byte character between two words. */
export function decodeWords(input: string, notes?: string[]): string {
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
    // Stateful charsets (ISO-2022-JP and kin) return to ASCII at the end of every word, so each word
    // decodes on its own; joined, the escape sequences would clash and give U+FFFD.
    if (pending && pending.charset === charset && !STATEFUL.test(charset)) pending.bytes.push(bytes);
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

export function qDecode(s: string): Buffer {
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
export function parseStructured(value: string): { value: string; params: Record<string, string> } {
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

export function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes);
}

export function toAddress(a: { name?: string; address?: string }): Address {
  return { name: decodeWords(a.name ?? '').replace(/\s+/g, ' ').trim(), address: (a.address ?? '').trim() };
}

export function parseAddressList(value: string | null): Address[] {
  if (!value) return [];
  try {
    return addressparser(value, { flatten: true }).map(toAddress).filter((a) => a.address || a.name);
  } catch {
    return [];
  }
}

export function messageIds(value: string | null): string[] {
  if (!value) return [];
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => `<${m[1]}>`);
  if (ids.length === 0 && /^[^\s<>]+@[^\s<>]+$/.test(value.trim())) ids.push(`<${value.trim()}>`);
  return [...new Set(ids)];
}

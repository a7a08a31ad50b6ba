import { decodeBytes } from './charsets.js';
import { MAX_HTML_CHARS, sizeText, warn, type Ctx } from './context.js';
import { htmlToText } from './html.js';
import { transferDecode, type Part } from './mime.js';

// The body text of a part tree: which parts are text, their charset, format=flowed, HTML converted.

export function partLabel(part: Part): string {
  return part.fileName ? `"${part.fileName}"` : part.type;
}

/** A text part's content as a string: transfer encoding, charset (checked), format=flowed. */
export function partText(part: Part, ctx: Ctx): string {
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
export function unflow(text: string, delsp: boolean): string {
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

export const SIGNATURE_TYPES = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature', 'application/pgp-signature']);

/** Text parts shown as the message body (not attachments). */
export function isBodyText(part: Part): boolean {
  return (part.type === 'text/plain' || part.type === 'text/html') && part.disposition !== 'attachment' && !part.fileName;
}

/** The body text of a part tree: text/plain preferred over HTML in alternatives; attachments and attached messages skipped. */
export function bodyText(part: Part, ctx: Ctx): { text: string; html: boolean } {
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

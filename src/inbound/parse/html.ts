// HTML to plain text, linear on hostile input.

export const ENTITIES: Record<string, string> = {
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
export function htmlToText(html: string): string {
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
export function dropBlocks(html: string): string {
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

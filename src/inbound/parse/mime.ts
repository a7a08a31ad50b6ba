import { MAX_DEPTH, MAX_PARTS, warn, type Ctx } from './context.js';
import { firstHeader, parseHeaders, parseStructured, splitHead, type Header } from './headers.js';

// The MIME tree: the raw Buffer split into parts synchronously, with hard caps (depth, part count),
// every part keeping its raw (transfer-encoded) bytes so that decoding can second-guess a charset.

export interface Part {
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

export function parseEntity(buf: Buffer, depth: number, cut: boolean, ctx: Ctx, defaultType = 'text/plain', headersOnly = false): Part {
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
        ctx.partsSkipped = (ctx.partsSkipped ?? 0) + parts.length - i;
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
export function splitMultipart(body: Buffer, boundary: string): { parts: Buffer[]; closed: boolean } {
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
export function transferDecode(part: Part, ctx: Ctx): { bytes: Buffer; broken: boolean } {
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

export function qpDecode(body: Buffer): Buffer {
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

export function walk(part: Part, visit: (p: Part, parent: Part | null) => boolean | void, parent: Part | null = null): void {
  if (visit(part, parent) === false) return;
  for (const c of part.children) walk(c, visit, part);
  if (part.message) walk(part.message, visit, part);
}

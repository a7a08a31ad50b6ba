// Shared by every parsing module: the limits a caller sets, our own hard caps, and the warning list.
export interface ParseLimits { maxAttachmentBytes: number; maxMessageBytes: number; maxAttachments: number }

export const MAX_DEPTH = 50; // multipart/message nesting we look into; real mail stays under 10
export const MAX_PARTS = 1000; // MIME parts per message
export const MAX_HEADER_BYTES = 64 * 1024; // one header (after unfolding); a long References is a few KB
export const MAX_HEADERS = 1000; // header fields per part
export const MAX_WARNINGS = 100;
export const MAX_HTML_CHARS = 5 * 1024 * 1024; // HTML converted to text (the rest is cut, with a warning)
export const MB = 1024 * 1024;

/** A part of the message that was not taken, and why (the journal, `mail show` and the sender are told). */
export interface DroppedPart { file: string; reason: string; why: 'size' | 'count' | 'cut' | 'parts'; limit?: number; size?: number }

export interface Ctx { warnings: string[]; parts: number; depthWarned: boolean; partsWarned: boolean; partsSkipped?: number; dropped?: DroppedPart[] }

/** Records a part that was not taken (never more than MAX_WARNINGS named; the rest are counted). */
export function drop(ctx: Ctx, file: string, reason: string, why: DroppedPart['why'], extra: { limit?: number; size?: number } = {}): void {
  const list = (ctx.dropped ??= []);
  if (list.length < MAX_WARNINGS) list.push({ file, reason, why, ...extra });
  else {
    const last = list[MAX_WARNINGS - 1]!;
    const n = /^(\d+) more file/.exec(last.file);
    list[MAX_WARNINGS - 1] = { ...last, file: `${n ? Number(n[1]) + 1 : 2} more file(s)` };
  }
}

export function warn(ctx: Ctx, message: string): void {
  if (ctx.warnings.length < MAX_WARNINGS && !ctx.warnings.includes(message)) ctx.warnings.push(message);
}

export function sizeText(bytes: number): string {
  const mb = bytes / MB;
  if (mb >= 10) return `${Math.round(mb)} MB`;
  if (mb >= 0.1) return `${Math.round(mb * 10) / 10} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

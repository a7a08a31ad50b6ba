import type { PDFFont } from '@cantoo/pdf-lib';

// Does a value fit its form field's box? Measured with the font the value will be drawn in (the
// embedded DejaVu Sans), with the geometry pdf-lib's appearance streams use (a 1 pt padding inside
// the border; multi-line text at 1.2 × the font's height a line), so that what we accept is what
// shows. A value too wide at the form's own size is shrunk down to FLOOR_SIZE; below that a bank
// would reject the page as unreadable, so we refuse instead.

export const FLOOR_SIZE = 6;
/** The size used when the form leaves it to the viewer ("0 Tf", auto): what most forms print at. */
const AUTO_START = 10;
const STEP = 0.5;

export interface FieldBox { width: number; height: number; borderWidth: number }
export interface FitInput { text: string; box: FieldBox; size: number; multiline: boolean; comb: number | null }
export type Fit = { ok: true; size: number; shrunk: boolean } | { ok: false; needs: string };

/** Lines of `text` wrapped at word boundaries within `width` (as pdf-lib wraps them); null if a word is wider. */
export function wrapLines(text: string, font: PDFFont, size: number, width: number): string[] | null {
  const out: string[] = [];
  for (const paragraph of text.split(/\r\n|\r|\n/)) {
    const words = paragraph.split(/ +/);
    let line = '';
    for (const word of words) {
      const candidate = line ? `${line} ${word}` : word;
      if (font.widthOfTextAtSize(candidate, size) < width) line = candidate;
      else if (!line) return null; // one word wider than the box
      else {
        out.push(line);
        if (font.widthOfTextAtSize(word, size) >= width) return null;
        line = word;
      }
    }
    out.push(line);
  }
  return out;
}

function fitsAt(input: FitInput, font: PDFFont, size: number): boolean {
  const { box, text } = input;
  if (input.comb) {
    // One character a cell, no padding (pdf-lib's combed layout).
    const cell = (box.width - box.borderWidth * 2) / input.comb;
    const widest = Math.max(0, ...[...text].map((ch) => font.widthOfTextAtSize(ch, size)));
    return widest <= cell && font.heightAtSize(size, { descender: false }) <= box.height - box.borderWidth * 2;
  }
  const inner = { width: box.width - (box.borderWidth + 1) * 2, height: box.height - (box.borderWidth + 1) * 2 };
  if (input.multiline) {
    const lines = wrapLines(text, font, size, inner.width);
    if (!lines) return false;
    return lines.length * font.heightAtSize(size) * 1.2 <= inner.height + 0.01;
  }
  return font.widthOfTextAtSize(text, size) <= inner.width && font.heightAtSize(size, { descender: false }) <= inner.height + 0.01;
}

/** The largest size from the form's own (or AUTO_START) down to FLOOR_SIZE at which the text fits. */
export function fitText(input: FitInput, font: PDFFont): Fit {
  const start = input.size > 0 ? input.size : AUTO_START;
  for (let size = start; size >= FLOOR_SIZE - 1e-9; size = Math.round((size - STEP) * 100) / 100) {
    if (fitsAt(input, font, size)) return { ok: true, size, shrunk: size < start };
  }
  const inner = input.box.width - (input.box.borderWidth + 1) * 2;
  if (input.multiline) {
    const lines = wrapLines(input.text, font, FLOOR_SIZE, inner);
    return { ok: false, needs: lines ? `${lines.length} lines at ${FLOOR_SIZE} pt, room for ${Math.floor((input.box.height - (input.box.borderWidth + 1) * 2) / (font.heightAtSize(FLOOR_SIZE) * 1.2))}` : `a word wider than the box at ${FLOOR_SIZE} pt` };
  }
  return { ok: false, needs: `${Math.ceil(font.widthOfTextAtSize(input.text, FLOOR_SIZE))} pt of width at ${FLOOR_SIZE} pt, room for ${Math.floor(inner)}` };
}

/** The font size in a /DA string ("/Helv 8 Tf 0 g" → 8; "0 Tf" → 0, auto). */
export function daSize(da: string | undefined): number {
  const m = da ? /(\d+(?:\.\d+)?)\s+Tf/.exec(da) : null;
  return m ? Number(m[1]) : 0;
}

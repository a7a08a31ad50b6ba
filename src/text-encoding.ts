import { readFile } from 'node:fs/promises';
import { TextDecoder } from 'node:util';
import { DossierError } from './errors.js';

// Text files staff import (CSV) come from Excel: in a Russian locale, "CSV (разделители — точки с
// запятой)" is windows-1251 with no BOM, "CSV UTF-8" has a BOM, and Excel's "Unicode text" is UTF-16
// with a BOM. Reading such a file as UTF-8 gives mojibake without any error, so the encoding is decided
// here, from the bytes, and the decision is told to the person importing.

export interface DecodedText {
  text: string;
  /** The encoding the bytes were read as (a WHATWG label: utf-8, windows-1251, utf-16le, …). */
  encoding: string;
  /** Why: "BOM", "valid UTF-8", "not UTF-8; Cyrillic text as windows-1251", "--encoding". */
  reason: string;
}

const BOMS: [number[], string][] = [
  [[0xef, 0xbb, 0xbf], 'utf-8'],
  [[0xff, 0xfe], 'utf-16le'],
  [[0xfe, 0xff], 'utf-16be'],
];

/**
 * Does text decoded as windows-1251 look like what a Russian spreadsheet holds? Of the letters that
 * are not ASCII, nearly all must be Cyrillic, and lower-case ones must be common (a wrong code page
 * — say a Latin-1 or Shift-JIS file — gives mostly box drawing, symbols and odd capitals).
 */
export function looksCyrillic(text: string): boolean {
  let cyr = 0;
  let lower = 0;
  let other = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) continue;
    if ((c >= 0x410 && c <= 0x44f) || c === 0x401 || c === 0x451) {
      cyr++;
      if (c >= 0x430 || c === 0x451) lower++;
    } else if (c === 0xa0 || c === 0xab || c === 0xbb || c === 0x2116 || c === 0x2013 || c === 0x2014 || c === 0x2026 || c === 0x201c || c === 0x201d || c === 0x201e) {
      // no-break space, «», №, dashes, ellipsis, quotes: common in Russian text, neutral here
    } else other++;
  }
  return cyr > 0 && other <= cyr * 0.05 && lower >= cyr * 0.3;
}

export function decodeText(bytes: Buffer, file: string, explicit?: string): DecodedText {
  if (explicit) {
    let decoder: TextDecoder;
    try {
      decoder = new TextDecoder(explicit, { fatal: true });
    } catch {
      throw new DossierError('USAGE', `--encoding ${explicit} is not an encoding this program knows.`, { hint: 'Use e.g. utf-8, windows-1251, koi8-r, utf-16le.' });
    }
    try {
      return { text: decoder.decode(bytes).replace(/^\uFEFF/, ''), encoding: decoder.encoding, reason: '--encoding' };
    } catch {
      throw new DossierError('IMPORT_ENCODING', `${file} is not valid ${decoder.encoding}.`, { hint: 'Nothing was imported. Check --encoding, or leave it out to have the encoding detected.' });
    }
  }
  for (const [bom, encoding] of BOMS) {
    if (bom.every((b, i) => bytes[i] === b)) {
      try {
        return { text: new TextDecoder(encoding, { fatal: true }).decode(bytes.subarray(bom.length)), encoding, reason: 'BOM' };
      } catch {
        throw new DossierError('IMPORT_ENCODING', `${file} starts with a ${encoding} byte-order mark but is not valid ${encoding}.`, { hint: 'Nothing was imported. Save it again from Excel as "CSV UTF-8", or give --encoding.' });
      }
    }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8', reason: 'valid UTF-8' };
  } catch {
    // not UTF-8: Excel's "CSV" in a Russian locale is windows-1251
  }
  const text = new TextDecoder('windows-1251').decode(bytes);
  if (looksCyrillic(text)) return { text, encoding: 'windows-1251', reason: 'not UTF-8; its letters read as Cyrillic in windows-1251' };
  throw new DossierError('IMPORT_ENCODING', `${file} is neither UTF-8 nor Russian text in windows-1251; its encoding cannot be told.`, {
    hint: 'Nothing was imported. Save it from Excel as "CSV UTF-8", or give the encoding with --encoding (e.g. koi8-r, cp866, utf-16le).',
  });
}

/** Reads a text file the way decodeText decides. ENOENT is left to the caller's own message. */
export async function readTextFile(file: string, explicit?: string): Promise<DecodedText> {
  return decodeText(await readFile(file), file, explicit);
}

/** The line told to the person importing: which encoding was assumed and why. */
export function encodingNote(file: string, d: DecodedText): string {
  return `${file}: read as ${d.encoding} (${d.reason})${d.reason === '--encoding' ? '' : '; if the text looks wrong, give --encoding'}.`;
}

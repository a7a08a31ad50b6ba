import fontkit from '@cantoo/fontkit';
import {
  CustomFontSubsetEmbedder,
  EncryptedPDFError,
  PDFArray,
  PDFBool,
  PDFCheckBox,
  PDFContext,
  PDFDict,
  PDFDocument,
  PDFDropdown,
  PDFName,
  PDFOptionList,
  PDFRadioGroup,
  PDFString,
  PDFTextField,
  rgb,
  type PDFField,
  type PDFFont,
  type PDFForm,
  PDFRef,
} from '@cantoo/pdf-lib';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { DossierError } from '../errors.js';
import { templatesDir } from '../paths.js';
import type { EnumOption, FieldDef } from '../schemas/types.js';
import { labelOf } from './docx.js';
import { evaluateTag, type RenderData } from './evaluate.js';
import { daSize, fitText, FLOOR_SIZE, type FieldBox } from './pdf-fit.js';
import { splitTemplateString } from './tags.js';
import { isTicked } from './ticks.js';
import type { TemplateMeta } from './templates.js';

// PDF templates with @cantoo/pdf-lib (the maintained fork of pdf-lib: pdf-lib itself has had no
// release since 2021, and the fork fixes form appearance and font bugs we would otherwise meet).
// Form mode fills AcroForm fields; overlay mode draws on a plain PDF at the mapping's coordinates.
// Text is set in an embedded DejaVu Sans, so Cyrillic shows; a character the font lacks is an error.

const FONT_FILE = path.join(templatesDir, 'fonts', 'DejaVuSans.ttf');
let fontCache: { bytes: Buffer; face: { hasGlyphForCodePoint(cp: number): boolean } } | null = null;

function font(fontFile = FONT_FILE) {
  if (fontFile !== FONT_FILE) {
    const bytes = readFileSync(fontFile);
    return { bytes, face: fontkit.create(bytes) as unknown as { hasGlyphForCodePoint(cp: number): boolean } };
  }
  if (!fontCache) {
    const bytes = readFileSync(FONT_FILE);
    fontCache = { bytes, face: sharedFace(fontkit.create(bytes)) as { hasGlyphForCodePoint(cp: number): boolean } };
  }
  return fontCache;
}

/**
 * A fontkit face made safe to share between documents. fontkit caches each glyph object with the
 * characters it was first looked up for; subsetting looks up the parts of composite glyphs with
 * none (DejaVu's Cyrillic «а», «с», «о», «Т» are built from the Latin letters), so a later document
 * that writes the Latin letter got a glyph with no characters and no ToUnicode entry: «Scania»
 * read back as «S ni». A glyph asked for with characters gets them if its cached copy has none.
 */
function sharedFace(face: unknown): unknown {
  const f = face as { getGlyph(id: number, chars?: number[]): { codePoints: number[] }; layout(text: string, ...rest: unknown[]): unknown };
  const getGlyph = f.getGlyph.bind(f);
  f.getGlyph = (id: number, chars: number[] = []) => {
    const glyph = getGlyph(id, chars);
    if (chars.length && !glyph.codePoints.length) glyph.codePoints = chars;
    return glyph;
  };
  // Shaping (fontkit's layout) was a third of a form's fill, and the same text is shaped again
  // and again: measured for the box, drawn into its appearance, encoded for the subset — and
  // filled into every recipient's copy of a deal's forms. A run is only read by pdf-lib (its
  // glyphs and their advance widths), so one run per text and feature set serves every fill of
  // the process. Bounded: emptied when it holds LAYOUT_CACHE runs.
  const layout = f.layout.bind(f);
  const runs = new Map<string, unknown>();
  f.layout = (text: string, ...rest: unknown[]) => {
    const features = rest[0];
    if (rest.length > 1 || typeof text !== 'string' || (features !== undefined && typeof features !== 'object')) return layout(text, ...rest);
    const key = features === undefined ? `\u0000${text}` : `${JSON.stringify(features)}\u0000${text}`;
    let run = runs.get(key);
    if (run === undefined) {
      if (runs.size >= LAYOUT_CACHE) runs.clear();
      run = layout(text, ...rest);
      runs.set(key, run);
    }
    return run;
  };
  return face;
}

/** Shaped runs kept per process (a run of a form value is a few hundred bytes). */
const LAYOUT_CACHE = 20_000;

// Embedding the font subset was the largest part of saving a filled form: fontkit encodes the
// subset and pdf-lib deflates it with a JavaScript zlib, for every form, although a deal's forms
// filled for each of its banks use the same glyphs. Two process-wide changes to pdf-lib, both
// leaving its output valid and equivalent:
//  - a subset's encoding is kept by (face, included glyphs, tables) and given back for the same
//    subset (encoding is a pure function of these; what it adds for composite glyphs is not read
//    afterwards by pdf-lib, which keeps its own glyph list);
//  - flate streams are deflated by Node's zlib (native, several times faster), and a byte array
//    deflated before (a kept subset) is not deflated again.
const subsetBytes = new WeakMap<object, Map<string, Promise<Uint8Array>>>();
const MAX_SUBSETS = 256;
const subsetProto = CustomFontSubsetEmbedder.prototype as unknown as { serializeFont(this: unknown): Promise<Uint8Array> };
const serializeFont = subsetProto.serializeFont;
subsetProto.serializeFont = function (this: unknown): Promise<Uint8Array> {
  const me = this as unknown as { font: object; subset: { glyphs?: unknown; includedTables?: unknown } };
  const { glyphs, includedTables } = me.subset;
  if (!Array.isArray(glyphs) || !glyphs.every((g) => typeof g === 'number')) return serializeFont.call(this);
  let kept = subsetBytes.get(me.font);
  if (!kept) subsetBytes.set(me.font, (kept = new Map()));
  const key = `${glyphs.join(',')}|${Array.isArray(includedTables) ? includedTables.join(',') : ''}`;
  let bytes = kept.get(key);
  if (!bytes) {
    if (kept.size >= MAX_SUBSETS) kept.clear();
    bytes = serializeFont.call(this);
    kept.set(key, bytes);
    bytes.catch(() => kept.delete(key));
  }
  return bytes;
};
const deflated = new WeakMap<Uint8Array, Uint8Array>();
PDFContext.prototype.flateStream = function (this: PDFContext, contents: string | Uint8Array, dict = {}) {
  const bytes = typeof contents === 'string' ? Uint8Array.from(contents, (c) => c.charCodeAt(0) & 0xff) : contents;
  let z = deflated.get(bytes);
  if (!z) {
    z = new Uint8Array(deflateSync(bytes));
    if (typeof contents !== 'string') deflated.set(bytes, z);
  }
  return this.stream(z, { ...dict, Filter: 'FlateDecode' });
};

export interface PdfFillOptions { fontFile?: string }

interface Sink { missing: Set<string>; problems: string[]; glyphs: Map<string, Set<string>> }

/** Text of a mapping string: literal parts and evaluated {tags}; null when a tag has no value. */
function textOf(template: string, data: RenderData, where: string, sink: Sink): string | null {
  let parts;
  try {
    parts = splitTemplateString(template);
  } catch (err) {
    sink.problems.push(`${where}: ${(err as Error).message}`);
    return null;
  }
  let out = '';
  let missing = false;
  for (const p of parts) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    const r = evaluateTag(p.tag, data);
    if (r.kind === 'unknown') sink.problems.push(`${where}: {${p.tag.raw}}: ${r.problem}`);
    else if (r.kind === 'missing') {
      sink.missing.add(`{${p.tag.raw}}`);
      missing = true;
    } else out += String(r.value);
  }
  return missing ? null : out.replace(/ {2,}/g, ' ').trim();
}

function fieldValue(name: string, data: RenderData, where: string, sink: Sink): { def: FieldDef; value: unknown } | null {
  const def = data.fields.get(name);
  if (!def) {
    sink.problems.push(`${where}: "${name}" is not a field of this record's schema version`);
    return null;
  }
  return { def, value: data.values[name] ?? null };
}

function checkGlyphs(text: string, where: string, face: { hasGlyphForCodePoint(cp: number): boolean }, sink: Sink): void {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || face.hasGlyphForCodePoint(cp)) continue;
    const set = sink.glyphs.get(where) ?? new Set<string>();
    set.add(`${ch} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`);
    sink.glyphs.set(where, set);
  }
}

const optionLabel = (options: EnumOption[] | undefined, value: unknown) => options?.find((o) => o.value === value)?.label.ru;

/** A form's fields in the kinds Dossier knows, or the class name of one it does not. */
export function pdfFieldKind(f: PDFField): 'text' | 'checkbox' | 'radio group' | 'dropdown' | 'list box' | string {
  return f instanceof PDFTextField ? 'text' : f instanceof PDFCheckBox ? 'checkbox' : f instanceof PDFRadioGroup ? 'radio group' : f instanceof PDFDropdown ? 'dropdown' : f instanceof PDFOptionList ? 'list box' : f.constructor.name;
}

/** The box of a field's first widget (the one its value is laid out in), in points. */
export function widgetBox(field: PDFField): FieldBox & { page: PDFRef | undefined } {
  const w = field.acroField.getWidgets()[0];
  if (!w) return { width: 0, height: 0, borderWidth: 0, page: undefined };
  const r = w.getRectangle();
  return { width: r.width, height: r.height, borderWidth: w.getBorderStyle()?.getWidth() ?? 0, page: w.P() };
}

/**
 * Opens a PDF template. Encrypted forms that open without a password (an owner password only: the
 * usual way banks "protect" a form) are read decrypted; others get our own message rather than
 * pdf-lib's developer hint. XFA data is kept at load so that we, not pdf-lib, decide and say
 * what happens to it.
 */
export async function loadPdf(bytes: Buffer, name: string): Promise<PDFDocument> {
  try {
    return await PDFDocument.load(bytes, { preserveXFA: true, updateMetadata: false });
  } catch (err) {
    if (!(err instanceof EncryptedPDFError)) {
      throw new DossierError('TEMPLATE_CORRUPT', `${name} is not a readable PDF: ${(err as Error).message}.`, { hint: 'Get the form again from the bank or insurer, or re-save it from a PDF editor.' });
    }
  }
  try {
    return await PDFDocument.load(bytes, { preserveXFA: true, updateMetadata: false, password: '' });
  } catch {
    throw new DossierError('TEMPLATE_ENCRYPTED', `${name} is encrypted with a password, so its fields cannot be filled.`, {
      hint: `Ask the sender for an unprotected copy, or remove the protection once with the password: qpdf --decrypt --password=PASSWORD "${name}" unprotected.pdf`,
    });
  }
}

/** True when the form carries XFA beside its AcroForm (a "hybrid"): we fill the AcroForm and drop the XFA. */
export function hasXfa(doc: PDFDocument): boolean {
  const acro = doc.catalog.lookupMaybe(PDFName.of('AcroForm'), PDFDict);
  return !!acro?.get(PDFName.of('XFA'));
}

/**
 * Removes a hybrid's XFA: the entry and the streams it points at (a single stream or an array of
 * name/stream pairs). Removing only the entry would leave the XFA packets in the saved file,
 * unreferenced but still carrying the form's old data.
 */
function dropXfa(doc: PDFDocument): void {
  const acro = doc.catalog.lookup(PDFName.of('AcroForm'), PDFDict);
  const xfa = acro.get(PDFName.of('XFA'));
  acro.delete(PDFName.of('XFA'));
  const parts = xfa instanceof PDFRef ? [xfa, doc.context.lookup(xfa)] : [xfa];
  for (const part of parts) {
    if (part instanceof PDFRef) doc.context.delete(part);
    else if (part instanceof PDFArray) for (const item of part.asArray()) if (item instanceof PDFRef) doc.context.delete(item);
  }
}

const OUR_FONT = 'DossierSans';

/** /DA with our font name and `size`, keeping the form's colour. */
function daWith(da: string | undefined, size: number): string {
  const tf = `/${OUR_FONT} ${size} Tf`;
  if (da && /\/[^\s/]+\s+[\d.]+\s+Tf/.test(da)) return da.replace(/\/[^\s/]+\s+[\d.]+\s+Tf/, tf);
  return `${tf} ${da ?? '0 g'}`.trim();
}

/**
 * Makes the filled form show the same in every viewer. LibreOffice and OpenOffice write forms with
 * NeedAppearances and a /DA naming a font that the form's /DR does not have; poppler then draws
 * the fields empty. Our font goes into /DR, every field's /DA names it, and since every field now
 * has an appearance stream of ours, viewers are told to use them.
 */
function settleAppearances(doc: PDFDocument, form: PDFForm, font: PDFFont, sizes: Map<PDFField, number>): void {
  const acro = form.acroForm.dict;
  let dr = acro.lookupMaybe(PDFName.of('DR'), PDFDict);
  if (!dr) {
    dr = doc.context.obj({});
    acro.set(PDFName.of('DR'), dr);
  }
  let fonts = dr.lookupMaybe(PDFName.of('Font'), PDFDict);
  if (!fonts) {
    fonts = doc.context.obj({});
    dr.set(PDFName.of('Font'), fonts);
  }
  fonts.set(PDFName.of(OUR_FONT), font.ref);
  for (const field of form.getFields()) {
    if (!(field instanceof PDFTextField || field instanceof PDFDropdown || field instanceof PDFOptionList)) continue;
    const own = field.acroField.getDefaultAppearance();
    const size = sizes.get(field) ?? daSize(own ?? acro.lookupMaybe(PDFName.of('DA'), PDFString)?.decodeText());
    field.acroField.setDefaultAppearance(daWith(own, size));
    for (const w of field.acroField.getWidgets()) if (w.getDefaultAppearance() !== undefined) w.setDefaultAppearance(daWith(w.getDefaultAppearance(), size));
  }
  acro.set(PDFName.of('NeedAppearances'), PDFBool.False);
}

interface Overflow { where: string; value: string; box: string; needs: string }

export async function fillPdf(bytes: Buffer, name: string, meta: TemplateMeta, data: RenderData, opts: PdfFillOptions = {}): Promise<Buffer> {
  const doc = await loadPdf(bytes, name);
  const f = font(opts.fontFile);
  // Parsing the font costs more than filling a small form; the parsed face is shared by every
  // fill of a process (see sharedFace for what that needed).
  const create = fontkit.create as (...args: unknown[]) => unknown;
  doc.registerFontkit({ ...fontkit, create: (buf: unknown, ...rest: unknown[]) => (buf === f.bytes ? f.face : create(buf, ...rest)) } as unknown as typeof fontkit);
  const pdfFont: PDFFont = await doc.embedFont(f.bytes, { subset: true });
  const sink: Sink = { missing: new Set(), problems: [], glyphs: new Map() };
  const tooLong: string[] = [];
  const overflows: Overflow[] = [];

  if (meta.mode === 'form') {
    // A hybrid's XFA would be shown instead of the AcroForm by XFA viewers, unfilled: removed.
    if (hasXfa(doc)) dropXfa(doc);
    const form = doc.getForm();
    // Looked up by name once: getFieldMaybe walks every field on each call (a 100-field form spent
    // a fifth of its fill time there).
    const byName = new Map(form.getFields().map((x) => [x.getName(), x]));
    const sizes = new Map<PDFField, number>();
    for (const m of meta.fields) {
      const where = `PDF field "${m.pdf}"`;
      const field = byName.get(m.pdf);
      if (!field) {
        sink.problems.push(`${where} is not in the PDF (its fields: ${[...byName.keys()].join(', ')})`);
        continue;
      }
      if (field instanceof PDFTextField) {
        const text = m.value !== undefined ? textOf(m.value, data, where, sink) : textOf(`{${m.field}}`, data, where, sink);
        if (text === null) continue;
        checkGlyphs(text, where, f.face, sink);
        const max = field.getMaxLength();
        if (max !== undefined && [...text].length > max) {
          tooLong.push(`${where} takes at most ${max} characters${field.isCombed() ? ` (${max} cells)` : ''}; «${text}» has ${[...text].length}`);
          continue;
        }
        const box = widgetBox(field);
        const fit = fitText({ text, box, size: daSize(field.acroField.getWidgets()[0]?.getDefaultAppearance() ?? field.acroField.getDefaultAppearance()), multiline: field.isMultiline(), comb: field.isCombed() ? max ?? null : null }, pdfFont);
        if (!fit.ok) {
          overflows.push({ where, value: text, box: `${Math.round(box.width)}×${Math.round(box.height)} pt${field.isMultiline() ? ', multi-line' : ''}`, needs: fit.needs });
          continue;
        }
        sizes.set(field, fit.size);
        field.setText(text);
      } else if (field instanceof PDFCheckBox) {
        const v = fieldValue(m.field ?? '', data, where, sink);
        if (!v) continue;
        // A box with no appearance stream (some generators leave it to the viewer) gets ours first,
        // so that it has an on-state to be shown in, not only a value.
        if (field.acroField.getWidgets().some((w) => !w.getAppearances()?.normal)) field.updateAppearances();
        // check() sets the box to its own on-state (its export value: "Yes", "Да", "On"…).
        if (isTicked(v.value, m.is)) field.check();
        else field.uncheck();
      } else if (field instanceof PDFRadioGroup || field instanceof PDFDropdown || field instanceof PDFOptionList) {
        const kind = pdfFieldKind(field);
        const available = field.getOptions();
        if (m.value !== undefined) {
          // Free text into an editable combo box, or a text that names one of the options.
          const text = textOf(m.value, data, where, sink);
          if (text === null) continue;
          if (text === '') field.clear();
          else if (available.includes(text) || (field instanceof PDFDropdown && field.isEditable())) field.select(text);
          else sink.problems.push(`${where}: "${text}" is not one of the ${kind}'s options (${available.join(', ')})${field instanceof PDFDropdown ? ' and the combo box is not editable' : ''}`);
          continue;
        }
        const v = fieldValue(m.field ?? '', data, where, sink);
        if (!v) continue;
        const mapped = v.value === null ? '' : m.options?.[String(v.value)];
        // An empty mapping (or no value) leaves a radio group unselected and a list empty.
        if (mapped === '' || v.value === null) {
          field.clear();
          continue;
        }
        const wanted = mapped ?? (field instanceof PDFRadioGroup ? String(v.value) : optionLabel(v.def.options, v.value) ?? String(v.value));
        if (!available.includes(wanted) && !(field instanceof PDFDropdown && field.isEditable())) {
          sink.problems.push(`${where}: "${wanted}" (for ${m.field} = ${String(v.value)}) is not one of its options: ${available.join(', ')}`);
          continue;
        }
        field.select(wanted);
      } else {
        sink.problems.push(`${where} is a kind of field Dossier does not fill (${field.constructor.name})`);
      }
    }
    if (!sink.problems.length && !sink.missing.size && !sink.glyphs.size && !tooLong.length && !overflows.length) {
      for (const [field, size] of sizes) (field as PDFTextField).acroField.setFontSize(size);
      form.updateFieldAppearances(pdfFont);
      // After pdf-lib's own pass, which writes its font's name into the /DA of what it drew.
      settleAppearances(doc, form, pdfFont, sizes);
      if (meta.flatten) form.flatten();
    }
  } else {
    const pages = doc.getPages();
    meta.overlay.forEach((o, i) => {
      const where = `overlay item ${i + 1} (page ${o.page}, ${o.x}/${o.y})`;
      const page = pages[o.page - 1];
      if (!page) {
        sink.problems.push(`${where}: the PDF has ${pages.length} page(s)`);
        return;
      }
      if (o.tick) {
        const v = fieldValue(o.tick, data, where, sink);
        if (!v) return;
        if (isTicked(v.value, o.is)) {
          // A cross of two strokes: needs no glyph, and reads as a tick on any bank form.
          const s = (o.size ?? 9) * 1;
          page.drawLine({ start: { x: o.x, y: o.y }, end: { x: o.x + s, y: o.y + s }, thickness: 1.2, color: rgb(0, 0, 0.55) });
          page.drawLine({ start: { x: o.x, y: o.y + s }, end: { x: o.x + s, y: o.y }, thickness: 1.2, color: rgb(0, 0, 0.55) });
        }
        return;
      }
      const text = textOf(o.value!, data, where, sink);
      if (text === null) return;
      checkGlyphs(text, where, f.face, sink);
      if (sink.glyphs.has(where)) return;
      page.drawText(text, { x: o.x, y: o.y, size: o.size ?? 10, font: pdfFont, color: rgb(0, 0, 0.55), ...(o.maxWidth ? { maxWidth: o.maxWidth, lineHeight: (o.size ?? 10) * 1.2 } : {}) });
    });
  }

  if (tooLong.length) {
    throw new DossierError('TEMPLATE_INVALID', `${name} has fields shorter than the values mapped to them:\n  - ${tooLong.join('\n  - ')}`, {
      hint: 'Map a shorter form of the value in the template\'s .yaml: {snils | digits} for a comb of digits, {birth_date | date:"ddMMyyyy"} for a date in cells.',
      details: { problems: tooLong },
    });
  }
  if (sink.problems.length) {
    throw new DossierError('TEMPLATE_INVALID', `${name} does not fit this record:\n  - ${sink.problems.join('\n  - ')}`, { hint: 'Run `dossier template check` to lint the mapping against the PDF and the schema.' });
  }
  if (overflows.length) {
    const lines = overflows.map((o) => `${o.where} (${o.box}): «${o.value.length > 80 ? o.value.slice(0, 77) + '…' : o.value}» does not fit even at ${FLOOR_SIZE} pt (${o.needs})`);
    throw new DossierError('RENDER_OVERFLOW', `${name}: ${overflows.length === 1 ? 'a value does' : `${overflows.length} values do`} not fit the form:\n  - ${lines.join('\n  - ')}`, {
      hint: 'Shorten the value (dossier field set), or map a shorter text to the field in the template\'s .yaml; `dossier template fields` shows each box\'s size.',
      details: { problems: lines },
    });
  }
  if (sink.glyphs.size) {
    throw new DossierError('FONT_MISSING_GLYPHS', `The font has no glyph for some characters in ${name}:\n  - ${[...sink.glyphs].map(([w, s]) => `${w}: ${[...s].join(', ')}`).join('\n  - ')}`, {
      hint: 'Correct the value (often a character pasted from elsewhere), or use a font that has these characters.',
    });
  }
  if (sink.missing.size) {
    throw new DossierError('RENDER_MISSING_VALUES', `${name} needs values the record does not have: ${[...sink.missing].map((m) => labelOf(m, data)).join(', ')}.`, {
      hint: 'Set them with `dossier field set`, or give optional ones a default in the mapping ({field | default:""}).',
      details: { missing: [...sink.missing] },
    });
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

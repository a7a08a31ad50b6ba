import fontkit from '@cantoo/fontkit';
import { PDFCheckBox, PDFDocument, PDFDropdown, PDFRadioGroup, PDFTextField, rgb, type PDFFont } from '@cantoo/pdf-lib';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DossierError } from '../errors.js';
import { templatesDir } from '../paths.js';
import type { EnumOption, FieldDef } from '../schemas/types.js';
import { evaluateTag, type RenderData } from './evaluate.js';
import { splitTemplateString } from './tags.js';
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
  fontCache ??= { bytes: readFileSync(FONT_FILE), face: fontkit.create(readFileSync(FONT_FILE)) as unknown as { hasGlyphForCodePoint(cp: number): boolean } };
  return fontCache;
}

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

export async function fillPdf(bytes: Buffer, name: string, meta: TemplateMeta, data: RenderData, opts: PdfFillOptions = {}): Promise<Buffer> {
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(bytes);
  } catch (err) {
    throw new DossierError('TEMPLATE_CORRUPT', `${name} is not a readable PDF: ${(err as Error).message}.`, { hint: 'Get the form again from the bank or insurer, or re-save it from a PDF editor.' });
  }
  const f = font(opts.fontFile);
  // Parsing a 700 KB TrueType font costs more than filling the form; the parsed face is read-only
  // during subsetting, so every fill of a batch shares the one already parsed.
  const create = fontkit.create as (...args: unknown[]) => unknown;
  doc.registerFontkit({ ...fontkit, create: (buf: unknown, ...rest: unknown[]) => (buf === f.bytes ? f.face : create(buf, ...rest)) } as unknown as typeof fontkit);
  const pdfFont: PDFFont = await doc.embedFont(f.bytes, { subset: true });
  const sink: Sink = { missing: new Set(), problems: [], glyphs: new Map() };

  if (meta.mode === 'form') {
    const form = doc.getForm();
    // Looked up by name once: getFieldMaybe walks every field on each call (a 100-field form spent
    // a fifth of its fill time there).
    const byName = new Map(form.getFields().map((x) => [x.getName(), x]));
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
        field.setText(text);
      } else if (field instanceof PDFCheckBox) {
        const v = fieldValue(m.field ?? '', data, where, sink);
        if (!v) continue;
        const on = m.is !== undefined ? v.value === m.is : v.value === true;
        // check() sets the box to its own on-state (its export value: "Yes", "Да", "On"…).
        if (on) field.check();
        else field.uncheck();
      } else if (field instanceof PDFRadioGroup || field instanceof PDFDropdown) {
        const v = fieldValue(m.field ?? '', data, where, sink);
        if (!v) continue;
        if (v.value === null) {
          field.clear();
          continue;
        }
        const wanted = m.options?.[String(v.value)] ?? (field instanceof PDFDropdown ? optionLabel(v.def.options, v.value) ?? String(v.value) : String(v.value));
        const available = field.getOptions();
        if (!available.includes(wanted)) {
          sink.problems.push(`${where}: "${wanted}" (for ${m.field} = ${String(v.value)}) is not one of its options: ${available.join(', ')}`);
          continue;
        }
        field.select(wanted);
      } else {
        sink.problems.push(`${where} is a kind of field Dossier does not fill (${field.constructor.name})`);
      }
    }
    if (!sink.problems.length && !sink.missing.size && !sink.glyphs.size) {
      form.updateFieldAppearances(pdfFont);
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
        const on = o.is !== undefined ? v.value === o.is : v.value === true;
        if (on) {
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

  if (sink.problems.length) {
    throw new DossierError('TEMPLATE_INVALID', `${name} does not fit this record:\n  - ${sink.problems.join('\n  - ')}`, { hint: 'Run `dossier template check` to lint the mapping against the PDF and the schema.' });
  }
  if (sink.glyphs.size) {
    throw new DossierError('FONT_MISSING_GLYPHS', `The font has no glyph for some characters in ${name}:\n  - ${[...sink.glyphs].map(([w, s]) => `${w}: ${[...s].join(', ')}`).join('\n  - ')}`, {
      hint: 'Correct the value (often a character pasted from elsewhere), or use a font that has these characters.',
    });
  }
  if (sink.missing.size) {
    throw new DossierError('RENDER_MISSING_VALUES', `${name} needs values the record does not have: ${[...sink.missing].join(', ')}.`, {
      hint: 'Set them with `dossier field set`, or give optional ones a default in the mapping ({field | default:""}).',
      details: { missing: [...sink.missing] },
    });
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

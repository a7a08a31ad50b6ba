import { readFileSync } from 'node:fs';
import path from 'node:path';
import fontkit from '@cantoo/fontkit';
import { PDFDocument, PDFName, PDFDict, rgb, type PDFFont, type PDFPage } from '@cantoo/pdf-lib';
import YAML from 'yaml';
import { templatesDir } from '../paths.js';

// Builds a PDF form (or a plain form without fields, for overlay mode) from a YAML source, so that the
// committed PDF can be reviewed as text and rebuilt. Source format: templates/README.md.

interface Item {
  text?: string; x: number; y: number; size?: number; bold?: boolean;
  line?: [number, number, number, number];
  box?: [number, number, number, number];
  field?: string; type?: 'text' | 'checkbox' | 'radio' | 'dropdown';
  w?: number; h?: number; export?: string; multiline?: boolean;
  options?: { export: string; x: number; y: number; size?: number }[] | string[];
}
interface Source { title: string; pages: { items: Item[] }[] }

export function fontBytes(bold = false): Buffer {
  return readFileSync(path.join(templatesDir, 'fonts', bold ? 'DejaVuSans-Bold.ttf' : 'DejaVuSans.ttf'));
}

/** pdf-lib names a new checkbox's on-state /Yes; real bank forms use their own export values. */
function renameOnState(widgetDict: PDFDict, to: string): void {
  const ap = widgetDict.lookup(PDFName.of('AP'), PDFDict);
  for (const key of ['N', 'D']) {
    const states = ap.lookupMaybe(PDFName.of(key), PDFDict);
    const on = states?.get(PDFName.of('Yes'));
    if (states && on) {
      states.delete(PDFName.of('Yes'));
      // PDF names are bytes: a Cyrillic export value is written as its UTF-8 bytes (#D0#94#D0#B0 for Да).
      states.set(PDFName.of(Buffer.from(to, 'utf8').toString('latin1')), on);
    }
  }
}

export async function buildPdf(sourceText: string): Promise<Buffer> {
  const src = YAML.parse(sourceText) as Source;
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  doc.setTitle(src.title);
  doc.setCreator('Dossier');
  doc.setProducer('Dossier template builder');
  const fixed = new Date(Date.UTC(2026, 0, 1));
  doc.setCreationDate(fixed);
  doc.setModificationDate(fixed);
  const regular = await doc.embedFont(fontBytes(false), { subset: true });
  const bold = await doc.embedFont(fontBytes(true), { subset: true });
  const form = doc.getForm();
  for (const p of src.pages) {
    const page: PDFPage = doc.addPage([595.28, 841.89]);
    for (const it of p.items) {
      const font: PDFFont = it.bold ? bold : regular;
      if (it.text !== undefined) page.drawText(it.text, { x: it.x, y: it.y, size: it.size ?? 10, font, color: rgb(0, 0, 0) });
      if (it.line) page.drawLine({ start: { x: it.line[0], y: it.line[1] }, end: { x: it.line[2], y: it.line[3] }, thickness: 0.5, color: rgb(0.3, 0.3, 0.3) });
      if (it.box) page.drawRectangle({ x: it.box[0], y: it.box[1], width: it.box[2], height: it.box[3], borderWidth: 0.7, borderColor: rgb(0, 0, 0) });
      if (!it.field) continue;
      const rect = { x: it.x, y: it.y, width: it.w ?? 200, height: it.h ?? 14, font: regular, borderWidth: 0.5, borderColor: rgb(0.4, 0.4, 0.4) };
      if (it.type === 'checkbox') {
        const cb = form.createCheckBox(it.field);
        cb.addToPage(page, { ...rect, width: it.w ?? 11, height: it.h ?? 11 });
        if (it.export && it.export !== 'Yes') for (const w of cb.acroField.getWidgets()) renameOnState(w.dict, it.export);
      } else if (it.type === 'radio') {
        const group = form.createRadioGroup(it.field);
        for (const o of it.options as { export: string; x: number; y: number; size?: number }[]) group.addOptionToPage(o.export, page, { x: o.x, y: o.y, width: o.size ?? 11, height: o.size ?? 11, borderWidth: 0.5, borderColor: rgb(0.4, 0.4, 0.4) });
      } else if (it.type === 'dropdown') {
        const dd = form.createDropdown(it.field);
        dd.addOptions(it.options as string[]);
        dd.addToPage(page, rect);
      } else {
        const tf = form.createTextField(it.field);
        if (it.multiline) tf.enableMultiline();
        tf.addToPage(page, rect);
      }
    }
  }
  form.updateFieldAppearances(regular);
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

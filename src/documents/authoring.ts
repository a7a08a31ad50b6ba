import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PDFDropdown, PDFOptionList, PDFRadioGroup, PDFTextField, PDFCheckBox } from '@cantoo/pdf-lib';
import Docxtemplater from 'docxtemplater';
import createInspectModule from 'docxtemplater/js/inspect-module.js';
import YAML from 'yaml';
import type { App } from '../app.js';
import { DossierError } from '../errors.js';
import { getParty } from '../records/parties.js';
import type { SchemaVersion } from '../schemas/types.js';
import { openDocx } from './docx.js';
import { hasXfa, loadPdf, pdfFieldKind, widgetBox } from './pdf.js';
import { legacyFields } from './word-legacy.js';

// Helping an admin add a bank's form: what fields it has (`dossier template fields`), a starting
// sidecar (`dossier template init`), and old Word formats (.doc, .rtf) turned into .docx once.

const run = promisify(execFile);

export interface TemplateField {
  name: string;
  kind: string;
  /** Options of a choice field, export values of a checkbox or radio group, entries of a Word dropdown. */
  options: string[];
  maxLength: number | null;
  /** PDF: the box in points and the page (1-based). */
  box: string | null;
  page: number | null;
  /** Where it is for DOCX: the part, or the legacy field's number. */
  where: string | null;
}

export interface FieldList { file: string; format: 'pdf' | 'docx'; fields: TemplateField[]; notes: string[] }

export async function listTemplateFields(file: string): Promise<FieldList> {
  if (!existsSync(file)) throw new DossierError('FILE_NOT_FOUND', `There is no file ${file}.`);
  const ext = path.extname(file).toLowerCase();
  const name = path.basename(file);
  if (ext === '.pdf') {
    const doc = await loadPdf(readFileSync(file), name);
    const notes: string[] = [];
    if (doc.isEncrypted) notes.push('The PDF is encrypted without a user password: Dossier opens it and fills an unprotected copy.');
    if (hasXfa(doc)) notes.push('The PDF is an XFA hybrid: Dossier fills its AcroForm fields and removes the XFA part, so every viewer shows the AcroForm.');
    // The page whose /Annots holds the widget: a widget's own /P is optional and LibreOffice's is not always right.
    const pageOf = new Map<unknown, number>();
    doc.getPages().forEach((p, i) => {
      const annots = p.node.Annots();
      for (let k = 0; k < (annots?.size() ?? 0); k++) pageOf.set(doc.context.lookup(annots!.get(k)), i + 1);
    });
    const fields = doc.getForm().getFields().map((f): TemplateField => {
      const box = widgetBox(f);
      const widget = f.acroField.getWidgets()[0];
      const page = widget ? pageOf.get(widget.dict) ?? null : null;
      const kind = pdfFieldKind(f);
      let options: string[] = [];
      if (f instanceof PDFRadioGroup || f instanceof PDFDropdown || f instanceof PDFOptionList) options = f.getOptions();
      else if (f instanceof PDFCheckBox) options = f.acroField.getWidgets().map((w) => (w.getOnValue() ? Buffer.from(w.getOnValue()!.decodeText(), 'latin1').toString('utf8') : 'Yes'));
      const text = f instanceof PDFTextField ? f : null;
      return {
        name: f.getName(),
        kind: kind + (text?.isMultiline() ? ', multi-line' : '') + (text?.isCombed() ? ', comb' : '') + (f instanceof PDFDropdown && f.isEditable() ? ', editable' : ''),
        options,
        maxLength: text?.getMaxLength() ?? null,
        box: box.width ? `${Math.round(box.width)}×${Math.round(box.height)} pt` : null,
        page,
        where: null,
      };
    });
    if (!fields.length) notes.push('The PDF has no form fields: describe it with mode: overlay (text drawn at coordinates).');
    return { file, format: 'pdf', fields, notes };
  }
  if (ext === '.docx') {
    const zip = openDocx(readFileSync(file), name);
    const fields: TemplateField[] = [];
    const inspect = (createInspectModule as unknown as () => { getAllTags(): Record<string, unknown> } & Docxtemplater.DXT.Module)();
    try {
      new Docxtemplater(zip, { modules: [inspect], paragraphLoop: true, linebreaks: true, errorLogging: false, parser: () => ({ get: () => '' }) });
      for (const tag of Object.keys(inspect.getAllTags())) fields.push({ name: `{${tag}}`, kind: 'tag', options: [], maxLength: null, box: null, page: null, where: null });
    } catch {
      // Tag errors are `template check`'s to report; the form fields below are still listed.
    }
    for (const part of Object.keys(zip.files).filter((f) => /^word\/(document|header\d*|footer\d*)\.xml$/.test(f))) {
      for (const m of zip.file(part)!.asText().matchAll(/<w:sdt>[\s\S]*?<\/w:sdt>/g)) {
        if (!m[0].includes('w14:checkbox')) continue;
        const tag = /<w:tag w:val="([^"]*)"/.exec(m[0])?.[1] ?? '';
        fields.push({ name: tag || '(no tag)', kind: 'checkbox content control', options: [], maxLength: null, box: null, page: null, where: part });
      }
    }
    for (const f of legacyFields(zip)) {
      fields.push({ name: f.name && !f.name.startsWith('__Fieldmark') ? f.name : `#${f.number}`, kind: `Word ${f.kind === 'checkbox' ? 'FORMCHECKBOX' : f.kind === 'text' ? 'FORMTEXT' : 'FORMDROPDOWN'}`, options: f.entries, maxLength: f.maxLength, box: null, page: null, where: `#${f.number}` });
    }
    return { file, format: 'docx', fields, notes: [] };
  }
  throw new DossierError('TEMPLATE_NOT_FOUND', `${file} is not a .docx or .pdf template.`, { hint: ext === '.doc' || ext === '.rtf' ? `Convert it once: dossier template init ${file} --recipient <party>` : undefined });
}

/** A .doc or .rtf converted once to .docx beside it with LibreOffice; returns the .docx path. */
export async function convertToDocx(file: string): Promise<string> {
  const target = file.replace(/\.(doc|rtf)$/i, '.docx');
  if (existsSync(target)) throw new DossierError('TEMPLATE_INVALID', `${path.basename(target)} already exists beside ${path.basename(file)}.`, { hint: 'Use the .docx, or move it away to convert again.' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dossier-convert-'));
  try {
    await run('soffice', [`-env:UserInstallation=file://${dir}/profile`, '--headless', '--convert-to', 'docx:MS Word 2007 XML', '--outdir', dir, file], { timeout: 180_000 });
    const out = path.join(dir, path.basename(target));
    if (!existsSync(out)) throw new Error('LibreOffice wrote no .docx');
    renameSync(out, target);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DossierError('TEMPLATE_CORRUPT', `${path.basename(file)} could not be converted to .docx${missing ? ': LibreOffice (soffice) is not installed' : `: ${(err as Error).message.split('\n')[0]}`}.`, {
      hint: missing ? 'Install LibreOffice Writer (Debian: libreoffice-writer-nogui), or save the file as .docx in Word.' : 'Open it in Word or LibreOffice and save it as .docx (Word Document).',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return target;
}

/** The record type whose schema has fields for recipients of `kind` (a bank → deal, an insurer → claim). */
async function typeFor(app: App, kind: string): Promise<{ type: string; schema: SchemaVersion }> {
  for (const type of Object.keys(app.config.recordTypes ?? {})) {
    const v = await app.schemas.newestPublished(type);
    if (v === null) continue;
    const schema = await app.schemas.published(type, v);
    if ([...schema.fields.values()].some((f) => f.recipientKind === kind)) return { type, schema };
  }
  throw new DossierError('TEMPLATE_INVALID', `No published field schema has fields for recipients of kind ${kind}.`, { hint: 'Add recipient fields for that kind to a schema (field-schemas/), publish it, then run template init again.' });
}

export interface InitResult { template: string; sidecar: string; converted: string | null; type: string; version: number; mapped: number; unmapped: number }

/** Writes a starting sidecar for a bank's or insurer's form: type, schema, recipient kind, and for PDFs a mapping to fill in. */
export async function initTemplate(app: App, file: string, recipient: string): Promise<InitResult> {
  if (!existsSync(file)) throw new DossierError('FILE_NOT_FOUND', `There is no file ${file}.`);
  let template = file;
  let converted: string | null = null;
  if (/\.(doc|rtf)$/i.test(file)) {
    template = await convertToDocx(file);
    converted = file;
  }
  const sidecar = `${template}.yaml`;
  if (existsSync(sidecar)) throw new DossierError('TEMPLATE_INVALID', `${path.basename(sidecar)} already exists.`, { hint: 'Edit it, or move it away to start again.' });
  const party = await getParty(app.db, recipient);
  const { type, schema } = await typeFor(app, party.kind);
  const fields = await listTemplateFields(template);
  const byLabel = new Map([...schema.fields.values()].map((f) => [f.label.ru.toLowerCase(), f.id]));
  const guess = (name: string) => (schema.fields.has(name) ? name : byLabel.get(name.toLowerCase()) ?? null);
  const doc: Record<string, unknown> = {
    title: `${path.basename(template, path.extname(template))} — ${party.name}`,
    type,
    schemas: [schema.version],
    recipient_kind: party.kind,
  };
  let mapped = 0;
  const todo: string[] = [];
  if (fields.format === 'pdf') {
    doc.mode = fields.fields.length ? 'form' : 'overlay';
    doc.flatten = false;
    const mapping: Record<string, string>[] = [];
    for (const f of fields.fields) {
      const id = guess(f.name);
      const isChoice = /checkbox|radio|dropdown|list/.test(f.kind);
      if (id) {
        mapping.push(isChoice ? { pdf: f.name, field: id } : { pdf: f.name, value: `{${id}}` });
        mapped++;
      } else todo.push(`#  - pdf: ${f.name}   # ${f.kind}${f.options.length ? `: ${f.options.join(' | ')}` : ''}${f.maxLength ? `, at most ${f.maxLength} characters` : ''}${f.box ? `, ${f.box}` : ''}${f.page ? `, page ${f.page}` : ''}`);
    }
    doc.fields = mapping;
  } else {
    const legacy = fields.fields.filter((f) => f.kind.startsWith('Word FORM'));
    if (legacy.length) {
      const map: Record<string, string> = {};
      for (const f of legacy) {
        const id = guess(f.name);
        if (id) {
          map[f.name] = f.kind === 'Word FORMCHECKBOX' ? id : `{${id}}`;
          mapped++;
        } else todo.push(`#   "${f.name}": …   # ${f.kind}${f.options.length ? `: ${f.options.join(' | ')}` : ''}`);
      }
      doc.word_fields = map;
    }
  }
  const header = [
    `# Sidecar for ${path.basename(template)} (written by dossier template init; format: templates/README.md).`,
    converted ? `# Converted from ${path.basename(converted)} with LibreOffice; fill the .docx, not the original.` : null,
    todo.length ? `# Fields to map (${todo.length}): move each into ${fields.format === 'pdf' ? 'fields:' : 'word_fields:'} with value: '{field_id}' or field: field_id` : null,
    ...todo,
  ].filter((l): l is string => l !== null);
  writeFileSync(sidecar, `${header.join('\n')}\n${YAML.stringify(doc)}`);
  return { template, sidecar, converted, type, version: schema.version, mapped, unmapped: todo.length };
}

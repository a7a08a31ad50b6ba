import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PDFCheckBox, PDFDocument, PDFDropdown, PDFRadioGroup, PDFTextField, type PDFField } from '@cantoo/pdf-lib';
import Docxtemplater from 'docxtemplater';
import createInspectModule from 'docxtemplater/js/inspect-module.js';
import type { App } from '../app.js';
import type { ColumnDef, FieldDef, SchemaVersion } from '../schemas/types.js';
import { openDocx, templateErrors } from './docx.js';
import { FILTERS, filterProblem } from './filters.js';
import { parseTag, splitTemplateString, type ParsedTag } from './tags.js';
import { loadTemplateMeta, type TemplateMeta } from './templates.js';

// `dossier template check`: every tag of every template against every schema version the template
// declares; every problem at once, with the file and where in it.

export interface LintProblem { file: string; where: string; message: string }

const SPECIALS = new Set(['$ref', '$title', '$today', '$recipient_name', '$recipient_key', '$schema_version']);

/** The fields a template for recipients of `kind` may use in a version. */
function usable(schema: SchemaVersion, kind: string | undefined): Map<string, FieldDef> {
  return new Map([...schema.fields].filter(([, f]) => f.scope === 'base' || !f.recipientKind || f.recipientKind === kind));
}

interface Scope { fields: Map<string, FieldDef>; columns: Map<string, ColumnDef> | null; all: Map<string, FieldDef>; version: number }

/** Problems of one tag; returns the field it names (for loops) or null. */
function checkTag(tag: ParsedTag, scope: Scope, report: (msg: string) => void, opts: { section?: boolean } = {}): FieldDef | ColumnDef | null {
  let def: FieldDef | ColumnDef | null = null;
  if (tag.name.startsWith('$')) {
    if (!SPECIALS.has(tag.name)) report(`"${tag.name}" is not a special (specials: ${[...SPECIALS].join(', ')})`);
  } else if (scope.columns?.has(tag.name)) def = scope.columns.get(tag.name)!;
  else if (scope.fields.has(tag.name)) {
    def = scope.fields.get(tag.name)!;
    if ((def as FieldDef).retired) report(`"${tag.name}" is retired in v${scope.version}`);
  } else if (scope.all.has(tag.name)) {
    const f = scope.all.get(tag.name)!;
    report(`"${tag.name}" is a ${f.recipientKind ?? 'recipient'} field: the template must declare recipient_kind: ${f.recipientKind ?? '…'}`);
  } else report(`unknown field "${tag.name}" in v${scope.version}`);
  const ctxDef = def ?? (tag.name === '$today' ? ({ id: '$today', type: 'date', label: { ru: '', en: '' } } as ColumnDef) : null);
  tag.filters.forEach((f, i) => {
    const problem = i === 0 ? filterProblem(f.name, { field: ctxDef, lang: 'ru' }, f.arg) : !FILTERS.has(f.name) ? filterProblem(f.name, { field: null, lang: 'ru' }, f.arg) : null;
    if (problem) report(problem);
  });
  if (opts.section && def) {
    const last = tag.filters.at(-1);
    const isCondition = last ? FILTERS.get(last.name)?.condition : false;
    if (!isCondition && def.type !== 'table' && def.type !== 'boolean') {
      report(`loop over "${tag.name}", which is ${def.type}, not a table: for a condition write {#${tag.name} | present} or {#${tag.name} | is:"…"}`);
    }
  }
  return def;
}

function walkParts(parts: Docxtemplater.DXT.Part[], scope: Scope, report: (tag: string, msg: string) => void): void {
  for (const part of parts) {
    if (part.type !== 'placeholder') continue;
    const raw = part.value;
    let tag: ParsedTag;
    try {
      tag = parseTag(raw);
    } catch (err) {
      report(raw, (err as Error).message);
      continue;
    }
    const isLoop = part.module === 'loop';
    const def = checkTag(tag, scope, (m) => report(raw, m), { section: isLoop });
    if (isLoop && part.subparsed) {
      const inner = def?.type === 'table' && !tag.filters.length ? { ...scope, columns: new Map(((def as FieldDef).columns ?? []).map((c) => [c.id, c])) } : scope;
      walkParts(part.subparsed, inner, report);
    }
  }
}

function lintDocx(file: string, meta: TemplateMeta, schemas: SchemaVersion[], out: LintProblem[]): void {
  const name = path.basename(file);
  let zip;
  try {
    zip = openDocx(readFileSync(file), name);
  } catch (err) {
    out.push({ file, where: '(file)', message: (err as Error).message });
    return;
  }
  // The module's file exports a factory, though its types describe a class.
  const inspect = (createInspectModule as unknown as () => {
    getTemplatedFiles(): string[];
    getStructuredTags(file?: string): Docxtemplater.DXT.Part[];
  } & Docxtemplater.DXT.Module)();
  try {
    new Docxtemplater(zip, { modules: [inspect], paragraphLoop: true, linebreaks: true, errorLogging: false, parser: () => ({ get: () => '' }) });
  } catch (err) {
    for (const m of templateErrors(err)) out.push({ file, where: m.split(':')[0]!, message: m.slice(m.indexOf(':') + 2) });
    return;
  }
  for (const schema of schemas) {
    const fields = usable(schema, meta.recipient_kind);
    const scope: Scope = { fields, columns: null, all: schema.fields, version: schema.version };
    for (const part of inspect.getTemplatedFiles()) {
      walkParts(inspect.getStructuredTags(part), scope, (tag, message) => out.push({ file, where: `${part} {${tag}}`, message: `${message} (v${schema.version})` }));
    }
    // Word checkbox content controls tagged dossier:<field>[=<option>].
    for (const part of Object.keys(zip.files).filter((f) => /^word\/(document|header\d*|footer\d*)\.xml$/.test(f))) {
      for (const m of zip.file(part)!.asText().matchAll(/<w:tag w:val="dossier:([^"]*)"\/>/g)) {
        const [fieldId, option] = m[1]!.split('=').map((s) => s.trim());
        const where = `${part} checkbox dossier:${m[1]}`;
        const f = fields.get(fieldId ?? '');
        if (!f) out.push({ file, where, message: `unknown field "${fieldId}" in v${schema.version}` });
        else if (option === undefined && f.type !== 'boolean') out.push({ file, where, message: `a tick over "${fieldId}", which is ${f.type}, not boolean: write dossier:${fieldId}=<option> (v${schema.version})` });
        else if (option !== undefined && !(f.options ?? []).some((o) => o.value === option)) out.push({ file, where, message: `"${option}" is not an option of ${fieldId} (v${schema.version})` });
      }
    }
  }
}

function kindOf(f: PDFField): string {
  return f instanceof PDFTextField ? 'text' : f instanceof PDFCheckBox ? 'checkbox' : f instanceof PDFRadioGroup ? 'radio group' : f instanceof PDFDropdown ? 'dropdown' : f.constructor.name;
}

async function lintPdf(file: string, meta: TemplateMeta, schemas: SchemaVersion[], out: LintProblem[]): Promise<void> {
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(readFileSync(file));
  } catch (err) {
    out.push({ file, where: '(file)', message: `not a readable PDF: ${(err as Error).message}` });
    return;
  }
  const pdfFields = new Map(doc.getForm().getFields().map((f) => [f.getName(), f]));
  if (meta.mode === 'overlay' && pdfFields.size) out.push({ file, where: 'mode', message: `overlay mode on a PDF that has ${pdfFields.size} form field(s): use mode: form` });
  for (const schema of schemas) {
    const scope: Scope = { fields: usable(schema, meta.recipient_kind), columns: null, all: schema.fields, version: schema.version };
    const v = ` (v${schema.version})`;
    const tagsOf = (text: string, where: string) => {
      try {
        for (const p of splitTemplateString(text)) if ('tag' in p) checkTag(p.tag, scope, (m) => out.push({ file, where: `${where} {${p.tag.raw}}`, message: m + v }));
      } catch (err) {
        out.push({ file, where, message: (err as Error).message });
      }
    };
    const choiceField = (id: string, where: string, is: string | undefined, need: 'boolean' | 'enum' | 'boolean-or-is') => {
      const f = scope.fields.get(id);
      if (!f) return out.push({ file, where, message: `unknown field "${id}"${v}` });
      if (is !== undefined) {
        if (!(f.options ?? []).some((o) => o.value === is) && !(f.type === 'boolean' && (is === 'true' || is === 'false'))) out.push({ file, where, message: `"${is}" is not an option of ${id}${v}` });
      } else if (need === 'enum' && f.type !== 'enum') out.push({ file, where, message: `${id} is ${f.type}; a radio group or dropdown needs an enum${v}` });
      else if (need !== 'enum' && f.type !== 'boolean') out.push({ file, where, message: `a tick over "${id}", which is ${f.type}, not boolean: add is: <option>${v}` });
      return f;
    };
    if (meta.mode === 'form') {
      for (const m of meta.fields) {
        const where = `mapping "${m.pdf}"`;
        const pf = pdfFields.get(m.pdf);
        if (!pf) {
          out.push({ file, where, message: `the PDF has no field "${m.pdf}" (it has: ${[...pdfFields.keys()].join(', ') || 'none'})` });
          continue;
        }
        const kind = kindOf(pf);
        if (kind === 'text') {
          tagsOf(m.value ?? `{${m.field}}`, where);
        } else if (kind === 'checkbox') {
          if (!m.field) out.push({ file, where, message: 'a checkbox needs field: (and is: for an enum option)' });
          else choiceField(m.field, where, m.is, 'boolean-or-is');
        } else if (kind === 'radio group' || kind === 'dropdown') {
          if (!m.field) {
            out.push({ file, where, message: `a ${kind} needs field:` });
            continue;
          }
          const f = choiceField(m.field, where, undefined, 'enum');
          const options = (pf as PDFRadioGroup | PDFDropdown).getOptions();
          for (const o of typeof f === 'object' ? (f.options ?? []) : []) {
            const target = m.options?.[o.value] ?? (kind === 'dropdown' ? o.label.ru : o.value);
            if (!options.includes(target)) out.push({ file, where, message: `option ${o.value} → "${target}" is not among the ${kind}'s options (${options.join(', ')})${v}` });
          }
        } else out.push({ file, where, message: `Dossier does not fill ${kind} fields` });
      }
    } else {
      const pages = doc.getPageCount();
      meta.overlay.forEach((o, i) => {
        const where = `overlay item ${i + 1} (page ${o.page})`;
        if (o.page > pages) out.push({ file, where, message: `the PDF has ${pages} page(s)` });
        const page = doc.getPage(Math.min(o.page, pages) - 1);
        const { width, height } = page.getSize();
        if (o.x < 0 || o.y < 0 || o.x > width || o.y > height) out.push({ file, where, message: `${o.x}/${o.y} is outside the ${Math.round(width)}×${Math.round(height)} page` });
        if (o.value) tagsOf(o.value, where);
        if (o.tick) choiceField(o.tick, where, o.is, 'boolean-or-is');
      });
    }
  }
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir)) {
    if (e === 'fonts' || e.startsWith('.')) continue;
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(docx|pdf)$/i.test(e)) yield p;
  }
}

export async function checkTemplates(app: App, files: string[]): Promise<{ files: string[]; problems: LintProblem[] }> {
  const problems: LintProblem[] = [];
  for (const file of files) {
    let meta: TemplateMeta;
    try {
      meta = loadTemplateMeta(file);
    } catch (err) {
      problems.push({ file, where: path.basename(file) + '.yaml', message: (err as Error).message });
      continue;
    }
    const schemas: SchemaVersion[] = [];
    for (const v of meta.schemas) {
      try {
        schemas.push(await app.schemas.any(meta.type, v));
      } catch (err) {
        problems.push({ file, where: 'schemas', message: (err as Error).message });
      }
    }
    if (file.toLowerCase().endsWith('.docx')) lintDocx(file, meta, schemas, problems);
    else await lintPdf(file, meta, schemas, problems);
  }
  return { files, problems };
}

export function templateFiles(root: string): string[] {
  return existsSync(root) ? [...walk(root)].sort() : [];
}

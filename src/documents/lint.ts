import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PDFDropdown, type PDFDocument, type PDFOptionList, type PDFRadioGroup } from '@cantoo/pdf-lib';
import Docxtemplater from 'docxtemplater';
import createInspectModule from 'docxtemplater/js/inspect-module.js';
import type { App } from '../app.js';
import type { ColumnDef, FieldDef, SchemaVersion } from '../schemas/types.js';
import { DossierError } from '../errors.js';
import { fixturesDir } from '../paths.js';
import type { FieldValue } from '../schemas/types.js';
import { parseFieldValue } from '../schemas/values.js';
import { openDocx, renderDocx, templateErrors } from './docx.js';
import type { RenderData } from './evaluate.js';
import { fillPdf, loadPdf, pdfFieldKind } from './pdf.js';
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
    if ((def as FieldDef).retired) report(`"${tag.name}" is retired`);
  } else if (scope.all.has(tag.name)) {
    const f = scope.all.get(tag.name)!;
    report(`"${tag.name}" is a ${f.recipientKind ?? 'recipient'} field: the template must declare recipient_kind: ${f.recipientKind ?? '…'}`);
  } else report(`unknown field "${tag.name}"`);
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

/** The text of each paragraph of each templated part, in order (for locating problems). */
function paragraphTexts(zip: ReturnType<typeof openDocx>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of Object.keys(zip.files).filter((f) => /^word\/(document|header\d*|footer\d*)\.xml$/.test(f))) {
    const xml = zip.file(part)!.asText();
    out.set(
      part,
      xml.split('</w:p>').map((p) => [...p.matchAll(/<w:t(?: [^>]*)?>([^<]*)<\/w:t>/g)].map((m) => m[1]).join('').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')),
    );
  }
  return out;
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
    // A syntax error stops docxtemplater; the tags that are whole are still checked (below), so
    // that one unclosed brace does not hide every unknown field behind it.
    const paragraphs = paragraphTexts(zip);
    for (const m of templateErrors(err)) {
      const part = m.split(':')[0]!;
      const xtag = /\(tag "([^"]*)"\)$/.exec(m)?.[1];
      // An unclosed tag runs on into the next paragraphs in docxtemplater's text: look for its start.
      let at = -1;
      for (let k = xtag?.length ?? 0; k > 0 && at < 0; k--) at = paragraphs.get(part)?.findIndex((t) => t.includes(`{${xtag!.slice(0, k)}`)) ?? -1;
      out.push({ file, where: at >= 0 ? `${part} paragraph ${at + 1}` : part, message: m.slice(m.indexOf(':') + 2) });
    }
    for (const schema of schemas) {
      const scope: Scope = { fields: usable(schema, meta.recipient_kind), columns: null, all: schema.fields, version: schema.version };
      const columns = new Set([...schema.fields.values()].flatMap((f) => (f.columns ?? []).map((c) => c.id)));
      for (const [part, texts] of paragraphs) {
        texts.forEach((text, i) => {
          for (const t of text.matchAll(/\{([^{}]*)\}/g)) {
            const raw = t[1]!.trim();
            if (raw.startsWith('/')) continue;
            const section = raw.startsWith('#') || raw.startsWith('^');
            let tag: ParsedTag;
            try {
              tag = parseTag(section ? raw.slice(1) : raw);
            } catch (e) {
              out.push({ file, where: `${part} paragraph ${i + 1} {${raw}}`, message: (e as Error).message });
              continue;
            }
            if (columns.has(tag.name)) continue; // a table's column, inside a loop we cannot see here
            checkTag(tag, scope, (msg) => out.push({ file, where: `${part} paragraph ${i + 1} {${raw}}`, message: `${msg} (v${schema.version})` }), { section: raw.startsWith('#') });
          }
        });
      }
    }
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
        if (!f) out.push({ file, where, message: `unknown field "${fieldId}" (v${schema.version})` });
        else if (option === undefined && f.type !== 'boolean') out.push({ file, where, message: `a tick over "${fieldId}", which is ${f.type}, not boolean: write dossier:${fieldId}=<option> (v${schema.version})` });
        else if (option !== undefined && !(f.options ?? []).some((o) => o.value === option)) out.push({ file, where, message: `"${option}" is not an option of ${fieldId} (v${schema.version})` });
      }
    }
  }
}

const kindOf = pdfFieldKind;

async function lintPdf(file: string, meta: TemplateMeta, schemas: SchemaVersion[], out: LintProblem[]): Promise<void> {
  let doc: PDFDocument;
  try {
    doc = await loadPdf(readFileSync(file), path.basename(file));
  } catch (err) {
    out.push({ file, where: '(file)', message: (err as Error).message });
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
        } else if (kind === 'radio group' || kind === 'dropdown' || kind === 'list box') {
          if (m.value !== undefined) {
            tagsOf(m.value, where); // free text (an editable combo box) or a text naming an option
            continue;
          }
          if (!m.field) {
            out.push({ file, where, message: `a ${kind} needs field: (or value: with a text)` });
            continue;
          }
          const f = scope.fields.get(m.field);
          if (!f) {
            out.push({ file, where, message: `unknown field "${m.field}"${v}` });
            continue;
          }
          const options = (pf as PDFRadioGroup | PDFDropdown | PDFOptionList).getOptions();
          // What each value of the field selects; '' leaves the group unselected.
          const targets: [string, string][] =
            f.type === 'boolean'
              ? ['true', 'false'].map((b) => [b, m.options?.[b] ?? b])
              : f.type === 'enum'
                ? (f.options ?? []).map((o) => [o.value, m.options?.[o.value] ?? (kind === 'radio group' ? o.value : o.label.ru)])
                : [];
          if (f.type !== 'boolean' && f.type !== 'enum') {
            out.push({ file, where, message: `${m.field} is ${f.type}; a ${kind} needs a choice (enum) or yes/no field, or value: with a text${v}` });
            continue;
          }
          const editable = pf instanceof PDFDropdown && pf.isEditable();
          for (const [value, target] of targets) {
            if (target !== '' && !options.includes(target) && !editable) out.push({ file, where, message: `${m.field} = ${value} → "${target}" is not among the ${kind}'s options (${options.join(', ')}); map it with options: { ${value}: … }${v}` });
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

interface SampleRecord { type: string; schemaVersion: number; title?: string; parties: { key: string; kind: string; name: string }[]; values: { base: Record<string, unknown>; recipients?: Record<string, Record<string, unknown>> } }

/**
 * The sample record of the template's type (fixtures/records/<type>.json) as the template would
 * see it: the base values, and for a recipient template the section of a recipient of its kind
 * (the one whose key is the template's folder, else the first).
 */
export function sampleData(file: string, meta: TemplateMeta, schema: SchemaVersion): RenderData | null {
  const sampleFile = path.join(fixturesDir, 'records', `${meta.type}.json`);
  if (!existsSync(sampleFile)) return null;
  const sample = JSON.parse(readFileSync(sampleFile, 'utf8')) as SampleRecord;
  const folder = path.basename(path.dirname(file));
  const party = meta.recipient_kind ? (sample.parties.find((p) => p.key === folder && p.kind === meta.recipient_kind) ?? sample.parties.find((p) => p.kind === meta.recipient_kind)) : undefined;
  const raw = { ...sample.values.base, ...(party ? sample.values.recipients?.[party.key] : {}) };
  const values: Record<string, FieldValue> = {};
  for (const [id, v] of Object.entries(raw)) {
    const def = schema.fields.get(id);
    if (!def) continue;
    const r = parseFieldValue(def, v);
    if (r.ok && r.value !== null) values[id] = r.value;
  }
  return {
    values,
    fields: schema.fields,
    specials: { $ref: `${meta.type === 'claim' ? 'C' : 'D'}-2026-0001`, $title: sample.title ?? '', $today: '2026-11-21', $recipient_name: party?.name ?? null, $recipient_key: party?.key ?? null, $schema_version: schema.version },
    lang: 'ru',
  };
}

/** Fills the template from the sample record and reports what a real fill would refuse: overflows, too-long values, missing values. */
async function sampleFill(file: string, meta: TemplateMeta, schemas: SchemaVersion[], out: LintProblem[]): Promise<void> {
  const schema = schemas.at(-1);
  if (!schema) return;
  const data = sampleData(file, meta, schema);
  if (!data) return;
  const name = path.basename(file);
  try {
    const bytes = readFileSync(file);
    if (file.toLowerCase().endsWith('.docx')) renderDocx(bytes, name, data, meta.word_fields);
    else await fillPdf(bytes, name, meta, data);
  } catch (err) {
    if (!(err instanceof DossierError)) throw err;
    const where = `filled from the sample ${meta.type} (v${schema.version})`;
    if (err.code === 'RENDER_MISSING_VALUES') {
      const missing = (err.details as { missing: string[] }).missing;
      out.push({ file, where, message: `the sample has no value for ${missing.map((m) => labelled(m, schema)).join(', ')}` });
    } else if (err.code === 'TEMPLATE_INVALID' && !(err.details as { problems?: string[] } | undefined)?.problems) {
      // The lint above already reports the mapping's problems one by one.
    } else {
      const lines = (err.details as { problems?: string[] } | undefined)?.problems ?? [err.message];
      for (const line of lines) out.push({ file, where, message: line });
    }
  }
}

/** "{borrower_inn}" → «ИНН заёмщика» {borrower_inn}: the label staff know the field by, and its id. */
export function labelled(tag: string, schema: SchemaVersion): string {
  const id = /^\{\s*([\w$]+)/.exec(tag)?.[1] ?? tag;
  const def = schema.fields.get(id);
  return def ? `«${def.label.ru}» ${tag}` : tag;
}

/** One line per problem: the same problem found in several schema versions is said once, naming them. */
function mergeVersions(problems: LintProblem[]): LintProblem[] {
  const byKey = new Map<string, { p: LintProblem; versions: string[] }>();
  for (const p of problems) {
    const m = / \((v\d+)\)$/.exec(p.message);
    const message = m ? p.message.slice(0, m.index) : p.message;
    const key = `${p.file}\u0000${p.where}\u0000${message}`;
    const known = byKey.get(key);
    if (known) {
      if (m) known.versions.push(m[1]!);
    } else byKey.set(key, { p: { ...p, message }, versions: m ? [m[1]!] : [] });
  }
  return [...byKey.values()].map(({ p, versions }) => (versions.length ? { ...p, message: `${p.message} (${versions.join(', ')})` } : p));
}

export async function checkTemplates(app: App, files: string[]): Promise<{ files: string[]; problems: LintProblem[] }> {
  const problems: LintProblem[] = [];
  for (const file of files) {
    let meta: TemplateMeta;
    try {
      meta = loadTemplateMeta(file);
    } catch (err) {
      const hint = err instanceof DossierError && err.hint ? ` (${err.hint})` : '';
      problems.push({ file, where: path.basename(file) + '.yaml', message: (err as Error).message + hint });
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
    const before = problems.length;
    if (file.toLowerCase().endsWith('.docx')) lintDocx(file, meta, schemas, problems);
    else await lintPdf(file, meta, schemas, problems);
    // A template whose tags are wrong would fail its sample fill for the same reasons.
    if (problems.length === before) await sampleFill(file, meta, schemas, problems);
  }
  return { files, problems: mergeVersions(problems) };
}

export function templateFiles(root: string): string[] {
  return existsSync(root) ? [...walk(root)].sort() : [];
}

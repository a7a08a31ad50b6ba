import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type ExcelJS from 'exceljs';
import type { Language } from '../config/schema.js';
import { restoreCell } from '../csv.js';
import { DossierError } from '../errors.js';
import { encodingNote, readTextFile, type DecodedText } from '../text-encoding.js';
import type { FieldDef, SchemaVersion } from './types.js';
import type { BulkFormat } from './bulk-format.js';

// Tables of cells from CSV and XLSX files, and how their header row maps to fields. Shared by the
// record import (one row a record) and the field import (one row a section of one record).

type ExcelCellValue = ExcelJS.CellValue;

/** One table of cells: the header row and the data rows, with the line number of each row. */
export interface Sheet { header: string[]; rows: { line: number; cells: unknown[] }[] }

export interface ImportOptions {
  format?: string | undefined;
  /** CSV: read the bytes as this encoding instead of detecting it. */
  encoding?: string | undefined;
  /** Refuse a file with columns that are not fields (default: ignore them and say so). */
  strict?: boolean | undefined;
  /** Lines for the person importing (the encoding assumed, columns ignored), printed on stderr. */
  onNote?: ((line: string) => void) | undefined;
  /** How far the import is: a phase ("checking", "writing") and rows done of total. */
  onProgress?: ((phase: 'checking' | 'writing', done: number, total: number) => void) | undefined;
}

export async function readSheet(file: string, format: 'csv' | 'xlsx', opts: ImportOptions): Promise<Sheet> {
  if (format === 'csv') {
    let decoded: DecodedText;
    try {
      decoded = await readTextFile(file, opts.encoding);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DossierError('FILE_NOT_FOUND', `Cannot read ${file}: no such file.`);
      throw err;
    }
    if (decoded.encoding !== 'utf-8') opts.onNote?.(encodingNote(path.basename(file), decoded));
    const text = decoded.text.replace(/^\uFEFF/, '');
    const first = text.split(/\r?\n/, 1)[0] ?? '';
    const delimiter = first.includes(';') ? ';' : first.includes('\t') ? '\t' : ',';
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = parseCsv(text, { delimiter, info: true, skip_empty_lines: true, relax_column_count: false }) as unknown as typeof records;
    } catch (err) {
      throw new DossierError('IMPORT_INVALID', `${file}${(err as { lines?: number }).lines ? ` line ${(err as { lines?: number }).lines}` : ''}: ${(err as Error).message}`, { hint: 'Nothing was imported.' });
    }
    const [head, ...rest] = records;
    // restoreCell: a cell Dossier's export neutralised against CSV injection (src/csv.ts) reads back as it was.
    return { header: (head?.record ?? []).map((h) => h.trim()), rows: rest.map((r) => ({ line: r.info.lines, cells: r.record.map(restoreCell) })) };
  }
  const { default: ExcelJS } = await import('exceljs');
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DossierError('FILE_NOT_FOUND', `Cannot read ${file}: no such file.`);
    throw new DossierError('IMPORT_INVALID', `${file} is not a readable XLSX workbook: ${(err as Error).message}`, { hint: 'Save it from Excel as .xlsx and try again.' });
  }
  const ws = wb.worksheets[0];
  if (!ws) throw new DossierError('IMPORT_INVALID', `${file} has no worksheet.`);
  const cell = (v: ExcelCellValue): unknown => {
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      if ('richText' in v) return v.richText.map((t) => t.text).join('');
      if ('text' in v) return v.text;
      if ('result' in v) return v.result;
      if ('error' in v) return String(v.error);
    }
    return v;
  };
  const header: string[] = [];
  ws.getRow(1).eachCell({ includeEmpty: true }, (c, col) => (header[col - 1] = String(cell(c.value) ?? '').trim()));
  for (let i = 0; i < header.length; i++) header[i] ??= '';
  const rows: Sheet['rows'] = [];
  ws.eachRow({ includeEmpty: false }, (row, n) => {
    if (n === 1) return;
    const cells: unknown[] = [];
    for (let col = 1; col <= header.length; col++) cells.push(cell(row.getCell(col).value));
    if (cells.some((c) => c !== null && c !== undefined && c !== '')) rows.push({ line: n, cells });
  });
  return { header, rows };
}

export const colName = (i: number, format: BulkFormat) => (format === 'xlsx' ? columnLetter(i) : `column ${i + 1}`);
function columnLetter(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

const norm = (s: string) => s.trim().toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ');

/** The columns that are not fields, under every name they are written with (ids, Russian, English). */
export type Special = 'ref' | 'title' | 'status' | 'schema_version' | 'recipient';
export const SPECIAL_NAMES: Record<Special, { ru: string; en: string; also: string[] }> = {
  ref: { ru: 'Номер', en: 'Ref', also: ['ref', 'номер записи', 'reference'] },
  title: { ru: 'Название', en: 'Title', also: ['title', 'наименование'] },
  status: { ru: 'Статус', en: 'Status', also: ['status'] },
  schema_version: { ru: 'Версия схемы', en: 'Schema version', also: ['schema_version'] },
  recipient: { ru: 'Получатель', en: 'Recipient', also: ['recipient'] },
};
function specialOf(h: string, allowed: Special[]): Special | null {
  const n = norm(h);
  return allowed.find((k) => [SPECIAL_NAMES[k].ru, SPECIAL_NAMES[k].en, ...SPECIAL_NAMES[k].also].some((x) => norm(x) === n)) ?? null;
}

/**
 * The header an export writes for a field: its label in the configured language, with the field id
 * in brackets when another exported field has the same label (addresses repeat "Индекс", "Улица"…).
 */
export function fieldHeaders(fields: FieldDef[], lang: Language): string[] {
  const count = new Map<string, number>();
  for (const f of fields) count.set(norm(f.label[lang]), (count.get(norm(f.label[lang])) ?? 0) + 1);
  return fields.map((f) => (count.get(norm(f.label[lang]))! > 1 ? `${f.label[lang]} (${f.id})` : f.label[lang]));
}

export interface HeaderMap { map: (FieldDef | Special | null)[]; problems: string[]; unknown: string[] }

/**
 * Maps headers to fields: by id, by Russian or English label, or "label (id)". A label that several
 * fields share is refused unless one of them is a live base field (what an export writes).
 */
export function mapHeader(schema: SchemaVersion, header: string[], format: BulkFormat, special: Special[]): HeaderMap {
  const byLabel = new Map<string, FieldDef[]>();
  for (const f of schema.fields.values()) {
    for (const l of new Set([norm(f.label.ru), norm(f.label.en)])) byLabel.set(l, [...(byLabel.get(l) ?? []), f]);
  }
  const pick = (h: string): FieldDef | 'ambiguous' | undefined => {
    const byId = schema.fields.get(h.trim());
    if (byId) return byId;
    const all = byLabel.get(norm(h));
    if (all?.length === 1) return all[0];
    if (all && all.length > 1) {
      const live = all.filter((f) => !f.retired && f.scope === 'base');
      return live.length === 1 ? live[0] : 'ambiguous';
    }
    const bracket = /\(([a-z][a-z0-9_]*)\)\s*$/.exec(h);
    return bracket ? schema.fields.get(bracket[1]!) : undefined;
  };
  const problems: string[] = [];
  const unknown: string[] = [];
  const seen = new Map<string, number>();
  const map = header.map((h, i) => {
    if (!h) return null;
    const sp = specialOf(h, special);
    if (sp) return sp;
    const f = pick(h);
    if (f === 'ambiguous') {
      problems.push(`${colName(i, format)} "${h}": several fields have this label (${byLabel.get(norm(h))!.map((x) => x.id).join(', ')}); write the field id, or "${h} (field_id)"`);
      return null;
    }
    if (!f) {
      unknown.push(`${colName(i, format)} "${h}": no field with this id or label in ${schema.type} v${schema.version}`);
      return null;
    }
    const prior = seen.get(f.id);
    if (prior !== undefined) problems.push(`${colName(i, format)} "${h}": field ${f.id} is already in ${colName(prior, format)}`);
    seen.set(f.id, i);
    return f;
  });
  return { map, problems, unknown };
}

/** Columns that are not fields: refused with --strict, else skipped with a note. */
export function handleUnknown(file: string, h: HeaderMap, opts: ImportOptions): void {
  if (!h.unknown.length) return;
  if (opts.strict) h.problems.push(...h.unknown);
  else opts.onNote?.(`${path.basename(file)}: ${h.unknown.length} column(s) ignored (not fields; --strict refuses them):\n  - ${h.unknown.join('\n  - ')}`);
}

export const empty = (v: unknown) => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

export function fail(file: string, problems: string[]): never {
  throw new DossierError('IMPORT_INVALID', `${path.basename(file)}: ${problems.length} problem(s); nothing was imported:\n  - ${problems.slice(0, 50).join('\n  - ')}${problems.length > 50 ? `\n  - … and ${problems.length - 50} more` : ''}`, {
    hint: 'Fix the file and import it again.',
    details: { problems },
  });
}


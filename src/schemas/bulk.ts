import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import type { Actor, App } from '../app.js';
import { withTransaction, type DbClient } from '../db/pool.js';
import { excelCsv, restoreCell } from '../csv.js';
import { DossierError } from '../errors.js';
import { checkRole, getParty, insertParty, linkPartyIn, partyProblems, type PartyInput } from '../records/parties.js';
import { insertRecord, listRecords, recordType, type RecordRow } from '../records/records.js';
import { applyAssignments, recordSchemaContext, type Assignment, type FieldChange, type StoredValue } from './fields.js';
import type { FieldDef, FieldValue, SchemaVersion } from './types.js';
import { displayValue } from './values.js';

// Bulk values in and out: JSON (the fixture format), CSV and XLSX. One file is one transaction: a bad
// row or value anywhere applies nothing, and every problem is reported with its row and column.

export type BulkFormat = 'json' | 'csv' | 'xlsx';

export function formatOf(file: string, explicit?: string): BulkFormat {
  const f = (explicit ?? path.extname(file).slice(1)).toLowerCase();
  if (f === 'json' || f === 'csv' || f === 'xlsx') return f;
  throw new DossierError('USAGE', `Cannot tell the format of ${file}.`, { hint: 'Use a .json, .csv or .xlsx file (or --format).' });
}

/** One table of cells: the header row and the data rows, with the line number of each row. */
interface Sheet { header: string[]; rows: { line: number; cells: unknown[] }[] }

async function readSheet(file: string, format: 'csv' | 'xlsx'): Promise<Sheet> {
  if (format === 'csv') {
    const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
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
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.readFile(file);
  } catch (err) {
    throw new DossierError('IMPORT_INVALID', `${file} is not a readable XLSX workbook: ${(err as Error).message}`, { hint: 'Save it from Excel as .xlsx and try again.' });
  }
  const ws = wb.worksheets[0];
  if (!ws) throw new DossierError('IMPORT_INVALID', `${file} has no worksheet.`);
  const cell = (v: ExcelJS.CellValue): unknown => {
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
  const rows: Sheet['rows'] = [];
  ws.eachRow({ includeEmpty: false }, (row, n) => {
    if (n === 1) return;
    const cells: unknown[] = [];
    for (let col = 1; col <= header.length; col++) cells.push(cell(row.getCell(col).value));
    if (cells.some((c) => c !== null && c !== undefined && c !== '')) rows.push({ line: n, cells });
  });
  return { header, rows };
}

const colName = (i: number, format: BulkFormat) => (format === 'xlsx' ? columnLetter(i) : `column ${i + 1}`);
function columnLetter(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

const norm = (s: string) => s.trim().toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ');

/** Maps headers to fields by id or by Russian or English label. */
function mapHeader(schema: SchemaVersion, header: string[], format: BulkFormat, special: string[]): { map: (FieldDef | string | null)[]; problems: string[] } {
  const byLabel = new Map<string, FieldDef>();
  for (const f of schema.fields.values()) {
    byLabel.set(norm(f.label.ru), f);
    byLabel.set(norm(f.label.en), f);
  }
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const map = header.map((h, i) => {
    if (!h) return null;
    if (special.includes(norm(h))) return norm(h);
    const f = schema.fields.get(h.trim()) ?? byLabel.get(norm(h));
    if (!f) {
      problems.push(`${colName(i, format)} "${h}": no field with this id or label in ${schema.type} v${schema.version}`);
      return null;
    }
    const prior = seen.get(f.id);
    if (prior !== undefined) problems.push(`${colName(i, format)} "${h}": field ${f.id} is already in ${colName(prior, format)}`);
    seen.set(f.id, i);
    return f;
  });
  return { map, problems };
}

const empty = (v: unknown) => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

function fail(file: string, problems: string[]): never {
  throw new DossierError('IMPORT_INVALID', `${path.basename(file)}: ${problems.length} problem(s); nothing was imported:\n  - ${problems.slice(0, 50).join('\n  - ')}${problems.length > 50 ? `\n  - … and ${problems.length - 50} more` : ''}`, {
    hint: 'Fix the file and import it again.',
    details: { problems },
  });
}

/** Applies assignments and turns their problems into "row N" problems instead of failing at once. */
async function applyOrCollect(c: DbClient, app: App, actor: Actor, ref: string, assignments: Assignment[], origin: string, where: string, problems: string[]): Promise<FieldChange[]> {
  const ctx = await recordSchemaContext(app, c, ref, { forUpdate: true });
  try {
    await c.query('SAVEPOINT assign');
    const changes = await applyAssignments(c, ctx, { ...actor, source: 'import' }, assignments, { source: 'import', origin });
    await c.query('RELEASE SAVEPOINT assign');
    return changes;
  } catch (err) {
    await c.query('ROLLBACK TO SAVEPOINT assign');
    const details = (err as DossierError).details as { problems?: string[] } | undefined;
    if (details?.problems) problems.push(...details.problems.map((p) => `${where}: ${p}`));
    else problems.push(`${where}: ${(err as Error).message}`);
    return [];
  }
}

// ---- JSON records (the fixture format) ---------------------------------------------------------

interface JsonRecord {
  type?: string;
  schemaVersion?: number;
  title?: string;
  parties?: (PartyInput & { role?: string })[];
  values?: { base?: Record<string, unknown>; recipients?: Record<string, Record<string, unknown>> };
}

export interface ImportedRecord { ref: string; values: number; parties: string[] }

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new DossierError('IMPORT_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { hint: 'Nothing was imported.' });
  }
}

function assignmentsOf(values: JsonRecord['values']): Assignment[] {
  const out: Assignment[] = [];
  for (const [field, raw] of Object.entries(values?.base ?? {})) out.push({ party: null, field, raw });
  for (const [party, vals] of Object.entries(values?.recipients ?? {})) for (const [field, raw] of Object.entries(vals)) out.push({ party, field, raw });
  return out;
}

export async function importRecords(app: App, actor: Actor, type: string, file: string, opts: { format?: string | undefined } = {}): Promise<ImportedRecord[]> {
  recordType(app.config, type);
  const format = formatOf(file, opts.format);
  const origin = path.basename(file);
  const importer: Actor = { id: `import:${origin}`, source: 'import' };
  const newest = await app.schemas.newestPublished(type);
  if (newest === null) throw new DossierError('SCHEMA_NOT_PUBLISHED', `No ${type} schema is published yet.`, { hint: `Publish one: dossier schema publish ${type} v1.` });

  return withTransaction(app.db, async (c) => {
    const problems: string[] = [];
    const imported: ImportedRecord[] = [];
    if (format === 'json') {
      const data = await readJson(file);
      const list = (Array.isArray(data) ? data : [data]) as JsonRecord[];
      for (const [i, r] of list.entries()) {
        const where = list.length > 1 ? `record ${i + 1}` : 'record';
        if (typeof r !== 'object' || r === null) {
          problems.push(`${where}: not an object`);
          continue;
        }
        if (r.type && r.type !== type) problems.push(`${where}: type "${r.type}" is not ${type}`);
        const version = r.schemaVersion ?? newest;
        try {
          await app.schemas.published(type, version);
        } catch (err) {
          problems.push(`${where}: ${(err as Error).message}`);
          continue;
        }
        const rec = await insertRecord(c, app.config, importer, { type, title: r.title, schemaVersion: version });
        const linked: string[] = [];
        for (const [j, p] of (r.parties ?? []).entries()) {
          const pw = `${where}, party ${j + 1} (${p.key})`;
          try {
            checkRole(app.config, p.role ?? 'participant');
          } catch (err) {
            problems.push(`${pw}: ${(err as Error).message}`);
            continue;
          }
          const existing = await c.query<{ key: string; kind: string }>('SELECT key, kind FROM parties WHERE key = $1', [p.key]);
          if (!existing.rows[0]) {
            const input: PartyInput = { key: p.key, kind: p.kind, name: p.name, emails: (p.emails ?? []).map((e) => e.toLowerCase()), phone: p.phone ?? null };
            const bad = partyProblems(app.config, input);
            if (bad.length) {
              problems.push(...bad.map((b) => `${pw}: ${b}`));
              continue;
            }
            await insertParty(c, importer, input, { file: origin });
          } else if (p.kind && existing.rows[0].kind !== p.kind) {
            problems.push(`${pw}: the directory already has ${p.key} as a ${existing.rows[0].kind}, not a ${p.kind}`);
            continue;
          }
          await linkPartyIn(c, importer, rec, await getParty(c, p.key), p.role ?? 'participant');
          linked.push(p.key);
        }
        const changes = await applyOrCollect(c, app, importer, rec.ref, assignmentsOf(r.values), origin, where, problems);
        imported.push({ ref: rec.ref, values: changes.length, parties: linked });
      }
    } else {
      const sheet = await readSheet(file, format);
      const schema = await app.schemas.published(type, newest);
      const { map, problems: headerProblems } = mapHeader(schema, sheet.header, format, ['title', 'ref', 'status', 'schema_version']);
      if (headerProblems.length) fail(file, headerProblems);
      for (const row of sheet.rows) {
        const where = `row ${row.line}`;
        let title: string | undefined;
        const assignments: Assignment[] = [];
        map.forEach((m, i) => {
          const raw = row.cells[i];
          if (m === 'title') title = empty(raw) ? undefined : String(raw).trim();
          else if (m && typeof m !== 'string' && !empty(raw)) assignments.push({ party: null, field: m.id, raw });
        });
        const rec = await insertRecord(c, app.config, importer, { type, title, schemaVersion: newest });
        const before = problems.length;
        const changes = await applyOrCollect(c, app, importer, rec.ref, assignments, origin, where, problems);
        // Name the column of each problem as well as the field.
        for (let k = before; k < problems.length; k++) {
          const id = /^row \d+: ([a-z0-9_]+)/.exec(problems[k]!)?.[1];
          const col = map.findIndex((m) => m && typeof m !== 'string' && m.id === id);
          if (col >= 0) problems[k] = problems[k]!.replace(`${where}: `, `${where}, ${colName(col, format)}: `);
        }
        imported.push({ ref: rec.ref, values: changes.length, parties: [] });
      }
    }
    if (problems.length) fail(file, problems);
    return imported;
  });
}

// ---- values of one record -----------------------------------------------------------------------

export async function importFields(app: App, actor: Actor, ref: string, file: string, opts: { format?: string | undefined } = {}): Promise<{ ref: string; changes: FieldChange[] }> {
  const format = formatOf(file, opts.format);
  const origin = path.basename(file);
  const importer: Actor = { id: `import:${origin}`, source: 'import' };
  return withTransaction(app.db, async (c) => {
    const ctx = await recordSchemaContext(app, c, ref, { forUpdate: true });
    const problems: string[] = [];
    let assignments: Assignment[] = [];
    if (format === 'json') {
      const data = (await readJson(file)) as JsonRecord & JsonRecord['values'];
      assignments = assignmentsOf(data.values ?? { base: data.base, recipients: data.recipients } as JsonRecord['values']);
      const changes = await applyOrCollect(c, app, importer, ctx.record.ref, assignments, origin, 'file', problems);
      if (problems.length) fail(file, problems);
      return { ref: ctx.record.ref, changes };
    }
    // A sheet: one row per section; the "recipient" column (empty: base) says which.
    const sheet = await readSheet(file, format);
    const { map, problems: headerProblems } = mapHeader(ctx.schema, sheet.header, format, ['recipient', 'ref', 'title', 'status', 'schema_version']);
    if (headerProblems.length) fail(file, headerProblems);
    const changes: FieldChange[] = [];
    for (const row of sheet.rows) {
      let party: string | null = null;
      const rowAssignments: Assignment[] = [];
      map.forEach((m, i) => {
        if (m === 'recipient' && !empty(row.cells[i])) party = String(row.cells[i]).trim();
      });
      map.forEach((m, i) => {
        if (m && typeof m !== 'string' && !empty(row.cells[i])) rowAssignments.push({ party, field: m.id, raw: row.cells[i] });
      });
      changes.push(...(await applyOrCollect(c, app, importer, ctx.record.ref, rowAssignments, origin, `row ${row.line}`, problems)));
    }
    if (problems.length) fail(file, problems);
    return { ref: ctx.record.ref, changes };
  });
}

// ---- export ---------------------------------------------------------------------------------------

const FIXED = ['ref', 'title', 'status', 'schema_version'] as const;

/** For a cell: what Excel shows well (numbers as numbers, dates as dates), tables as JSON text. */
function xlsxCell(f: FieldDef, v: FieldValue): ExcelJS.CellValue {
  if (v === null) return null;
  switch (f.type) {
    case 'money':
    case 'number':
      return Number(v);
    case 'date':
      return new Date(`${String(v)}T00:00:00Z`);
    case 'boolean':
      return v === true ? 'да' : 'нет';
    case 'table':
      return JSON.stringify(v);
    case 'enum':
      return displayValue(f, v);
    default:
      return String(v);
  }
}

function csvCell(f: FieldDef, v: FieldValue): string {
  if (v === null) return '';
  if (f.type === 'table') return JSON.stringify(v);
  if (f.type === 'money') return String(v).replace('.', ',');
  return displayValue(f, v).replace(/\u00a0/g, ' ');
}

export async function exportRecords(app: App, type: string, opts: { format: 'csv' | 'xlsx'; out: string; version?: number | undefined }): Promise<{ file: string; records: number; fields: number }> {
  recordType(app.config, type);
  const version = opts.version ?? (await app.schemas.newestPublished(type));
  if (version === null) throw new DossierError('SCHEMA_NOT_PUBLISHED', `No ${type} schema is published yet.`);
  const schema = await app.schemas.published(type, version);
  const fields = [...schema.fields.values()].filter((f) => f.scope === 'base' && !f.retired);
  const records: RecordRow[] = await listRecords(app.db, app.config, { type });
  const values = new Map<number, Map<string, FieldValue>>();
  for (const r of (await app.db.query<StoredValue & { record_id: number }>('SELECT fv.* FROM field_values fv JOIN records r ON r.id = fv.record_id WHERE r.type = $1 AND fv.party_id IS NULL', [type])).rows) {
    if (!values.has(r.record_id)) values.set(r.record_id, new Map());
    values.get(r.record_id)!.set(r.field_id, r.value);
  }
  const fixed = (r: RecordRow) => [r.ref, r.title ?? '', r.status, r.schema_version ?? ''];
  if (opts.format === 'csv') {
    const lines = [[...FIXED, ...fields.map((f) => f.id)]];
    for (const r of records) lines.push([...fixed(r).map(String), ...fields.map((f) => csvCell(f, values.get(r.id)?.get(f.id) ?? null))]);
    // A BOM and semicolons: what Excel in a Russian locale opens correctly with a double click.
    await writeFile(opts.out, excelCsv(lines));
  } else {
    const wb = new ExcelJS.Workbook();
    wb.creator = 'Dossier';
    const ws = wb.addWorksheet(type, { views: [{ state: 'frozen', xSplit: 1, ySplit: 1 }] });
    ws.addRow([...FIXED, ...fields.map((f) => f.id)]);
    fields.forEach((f, i) => {
      const c = ws.getRow(1).getCell(FIXED.length + i + 1);
      c.note = `${f.label.ru}\n${f.label.en}\n(${f.type}${f.required ? ', required' : ''})`;
      const col = ws.getColumn(FIXED.length + i + 1);
      if (f.type === 'money') col.numFmt = '#,##0.00';
      if (f.type === 'date') col.numFmt = 'dd.mm.yyyy';
      col.width = Math.min(40, Math.max(12, f.id.length + 2));
    });
    ws.getRow(1).font = { bold: true };
    for (const r of records) ws.addRow([...fixed(r), ...fields.map((f) => xlsxCell(f, values.get(r.id)?.get(f.id) ?? null))]);
    await wb.xlsx.writeFile(opts.out);
  }
  return { file: opts.out, records: records.length, fields: fields.length };
}


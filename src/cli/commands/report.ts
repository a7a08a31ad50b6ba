import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { App } from '../../app.js';
import { DossierError } from '../../errors.js';
import { recordType } from '../../records/records.js';
import { writeReportCsv } from '../../reports/csv.js';
import { gatherReport, type Report } from '../../reports/gather.js';
import { reportSections, type Cell, type Column } from '../../reports/tables.js';
import { reportTexts } from '../../reports/texts.js';
import { reportWorkbook } from '../../reports/xlsx.js';
import { parseDate } from '../../schemas/values.js';
import { formatTable, formatTime } from '../output.js';

export const REPORT_FORMATS = ['table', 'xlsx', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions { type?: string | undefined; since?: string | undefined; format?: string | undefined; out?: string | undefined }

export interface ReportResult extends Report {
  /** What was written: nothing for a table on the terminal, the file(s) otherwise. */
  output: { format: ReportFormat; files: string[]; sheets?: string[]; charts?: number };
}

/**
 * "2026-10-01", "01.10.2026" (or any date form a field accepts): the start of that day in this
 * machine's time zone, which is what a person means by "since the 1st"; a full ISO time is taken as is.
 */
export function parseSince(raw: string): Date {
  const s = raw.trim();
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}/.test(s) && !Number.isNaN(Date.parse(s))) return new Date(s);
  const iso = parseDate(s);
  if (!iso) throw new DossierError('USAGE', `--since "${raw}" is not a date.`, { hint: 'Give a date as 01.10.2026 or 2026-10-01 (or an ISO time, 2026-10-01T09:00:00Z).' });
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d);
}

function reportFormat(raw: string | undefined): ReportFormat {
  const f = raw ?? 'table';
  if ((REPORT_FORMATS as readonly string[]).includes(f)) return f as ReportFormat;
  throw new DossierError('USAGE', `--format must be table, xlsx or csv, not "${f}".`, { hint: 'table prints to the terminal (or -o FILE); xlsx writes a workbook with charts; csv one file per section into a directory.' });
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

export async function report(app: App, opts: ReportOptions): Promise<ReportResult> {
  const format = reportFormat(opts.format);
  if (opts.type) recordType(app.config, opts.type);
  const since = opts.since === undefined ? undefined : parseSince(opts.since);
  const data = await gatherReport(app.db, app.config, { type: opts.type, since });
  const stamp = data.generatedAt.slice(0, 10);

  if (format === 'xlsx') {
    const name = `dossier-report-${stamp}.xlsx`;
    const file = opts.out ? (isDir(opts.out) ? path.join(opts.out, name) : opts.out) : name;
    const wb = await reportWorkbook(data);
    await writeOut(file, wb.bytes);
    return { ...data, output: { format, files: [file], sheets: wb.sheets, charts: wb.charts } };
  }
  if (format === 'csv') {
    const dir = opts.out ?? `dossier-report-${stamp}`;
    if ((existsSync(dir) && !isDir(dir)) || /\.csv$/i.test(dir)) {
      throw new DossierError('USAGE', `-o ${dir}: the CSV report is one file per section, so -o names a directory.`, {
        hint: `Give a directory (created if missing), e.g. -o report-csv; it gets statuses.csv, times.csv, decisions.csv, outbox.csv, intake.csv, promises.csv and evidence.csv. For one file, use --format xlsx.`,
      });
    }
    const files = await writeReportCsv(data, dir).catch((err: NodeJS.ErrnoException) => {
      throw cannotWrite(dir, err);
    });
    return { ...data, output: { format, files } };
  }
  if (opts.out) {
    await writeOut(opts.out, renderTables(data) + '\n');
    return { ...data, output: { format, files: [opts.out] } };
  }
  return { ...data, output: { format, files: [] } };
}

function cannotWrite(where: string, err: NodeJS.ErrnoException): DossierError {
  return new DossierError('FILE_UNREADABLE', `Cannot write the report to ${where}: ${err.code ?? err.message}.`, { hint: 'Check that the directory exists and is writable, or choose another place with -o.', cause: err });
}

async function writeOut(file: string, bytes: Buffer | string): Promise<void> {
  try {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFile(file, bytes);
  } catch (err) {
    throw cannotWrite(file, err as NodeJS.ErrnoException);
  }
}

function show(v: Cell, c: Column): string {
  if (v === null || v === '') return c.kind === 'text' ? '' : '—';
  if (typeof v === 'number' && (c.kind === 'days' || c.kind === 'minutes')) return v.toFixed(1);
  return String(v);
}

/** The report as text: a heading and a table a section. */
export function renderTables(r: Report): string {
  const t = reportTexts(r.language).terminal;
  const what = r.filter.type ?? t.dealsAndClaims;
  const since = r.filter.since ? t.since(formatTime(r.filter.since)) : '';
  const out = [t.heading(what, since, formatTime(r.generatedAt))];
  const empty: Record<string, string> = { times: t.empty.times, decisions: t.empty.decisions };
  for (const s of reportSections(r)) {
    out.push('', `${s.title}`);
    out.push(s.rows.length ? formatTable(s.columns.map((c) => c.short ?? c.header), s.rows.map((row) => row.map((v, i) => show(v, s.columns[i]!)))) : (empty[s.id] ?? t.empty.other));
  }
  out.push('', t.footnote);
  return out.join('\n');
}

export function renderReport(r: ReportResult): string {
  const o = r.output;
  if (o.format === 'xlsx') return `Wrote the report to ${o.files[0]} (${o.sheets?.length ?? 0} sheets: ${o.sheets?.join(', ')}; ${o.charts ?? 0} chart(s)).`;
  if (o.format === 'csv') return `Wrote the report as ${o.files.length} CSV file(s): ${o.files.join(', ')}.`;
  if (o.files.length) return `Wrote the report to ${o.files[0]}.`;
  return renderTables(r);
}

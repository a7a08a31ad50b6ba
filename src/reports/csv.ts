import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { csvNumber, excelCsv } from '../csv.js';
import type { Report } from './gather.js';
import { reportSections } from './tables.js';

// The report as CSV: one file a section (statuses.csv, times.csv, decisions.csv, outbox.csv,
// intake.csv) in a directory. The sections have different columns, and someone opening a CSV in
// Excel expects one table with one header; a single file with a "section" column would give them
// a sheet of mismatched columns to untangle. Files follow the Excel conventions of src/csv.ts.

export async function writeReportCsv(report: Report, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const s of reportSections(report)) {
    const rows = [s.columns.map((c) => c.header), ...s.rows.map((r) => r.map((v) => (v === null ? '' : typeof v === 'number' ? csvNumber(v) : v)))];
    const file = path.join(dir, `${s.id}.csv`);
    await writeFile(file, excelCsv(rows));
    files.push(file);
  }
  return files;
}

import type { Report } from './gather.js';
import { addBarCharts, type BarChartSpec } from './chart.js';
import { ALL_PARTIES, reportSections, type Column, type Section } from './tables.js';
import { reportTexts, type ReportTexts } from './texts.js';

// The report as a workbook: one sheet a section (header row frozen, bold, filters on), an "About"
// sheet with the filter and how each figure is measured, and bar charts where a picture says more
// than the numbers: records by status, and median days per bank / insurer.

const NUM_FMT: Record<Column['kind'], string | undefined> = { text: undefined, count: '0', days: '0.0', minutes: '0.0', ratio: '0.##' };

function widthOf(section: Section, i: number): number {
  const longest = Math.max(...[section.columns[i]!.header, ...section.rows.map((r) => (r[i] === null || r[i] === undefined ? '' : String(r[i])))].map((s) => [...s].length));
  return Math.min(48, Math.max(8, longest + 2));
}

/** The charts of the written sheets: cell ranges follow the rows exactly as reportSections laid them out. */
export function reportCharts(sections: Section[], texts: ReportTexts = reportTexts('ru')): BarChartSpec[] {
  const charts: BarChartSpec[] = [];
  const statuses = sections.find((s) => s.id === 'statuses')!;
  const chartCol = statuses.columns.length + 1; // one empty column after the table
  statuses.groups.forEach((g, i) => {
    // Row 1 is the header, so section row k is sheet row k + 2.
    charts.push({
      sheet: statuses.title,
      title: texts.chart.byStatus(g.type),
      categories: { sheet: statuses.title, col: 3, row: g.from + 2, toRow: g.to + 2 },
      categoryCache: statuses.rows.slice(g.from, g.to + 1).map((r) => String(r[2])),
      series: [{ name: 'records', nameCell: { sheet: statuses.title, col: 5, row: 1 }, values: { sheet: statuses.title, col: 5, row: g.from + 2, toRow: g.to + 2 }, cache: statuses.rows.slice(g.from, g.to + 1).map((r) => r[4] as number) }],
      at: { col: chartCol, row: 1 + i * 18, cols: 8, rows: 16 },
      numFmt: '0',
    });
  });
  const times = sections.find((s) => s.id === 'times')!;
  let n = 0;
  for (const g of times.groups) {
    // The first row of a type is every party together; the chart compares the parties.
    const from = g.from + 1;
    if (from > g.to) continue;
    const rows = times.rows.slice(from, g.to + 1);
    if (ALL_PARTIES.includes(String(rows[0]?.[1]))) continue;
    const series = (col: number) => ({
      name: times.columns[col - 1]!.header,
      nameCell: { sheet: times.title, col, row: 1 },
      values: { sheet: times.title, col, row: from + 2, toRow: g.to + 2 },
      cache: rows.map((r) => r[col - 1] as number | null),
    });
    charts.push({
      sheet: times.title,
      title: texts.chart.medianPer(g.type),
      categories: { sheet: times.title, col: 3, row: from + 2, toRow: g.to + 2 },
      categoryCache: rows.map((r) => String(r[2] || r[1])),
      series: [series(5), series(8)],
      at: { col: times.columns.length + 1, row: 1 + n++ * 18, cols: 9, rows: 16 },
      numFmt: '0.0',
    });
  }
  return charts;
}

export async function reportWorkbook(report: Report): Promise<{ bytes: Buffer; sheets: string[]; charts: number }> {
  const sections = reportSections(report);
  const t = reportTexts(report.language);
  const { default: ExcelJS } = await import('exceljs');
  const wb = new ExcelJS.Workbook();
  wb.creator = 'Dossier';
  wb.created = new Date(report.generatedAt);
  for (const s of sections) {
    // Printed (or exported to PDF) landscape, one page wide, so a chart is not cut across pages.
    const ws = wb.addWorksheet(s.title, { views: [{ state: 'frozen', ySplit: 1 }], pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
    ws.addRow(s.columns.map((c) => c.header));
    ws.getRow(1).font = { bold: true };
    for (const r of s.rows) ws.addRow(r);
    s.columns.forEach((c, i) => {
      const col = ws.getColumn(i + 1);
      col.width = widthOf(s, i);
      const fmt = NUM_FMT[c.kind];
      // Formats on the data cells, not the column: the header stays text.
      if (fmt) for (let row = 2; row <= s.rows.length + 1; row++) ws.getCell(row, i + 1).numFmt = fmt;
    });
    if (s.rows.length) ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: s.rows.length + 1, column: s.columns.length } };
  }
  const about = wb.addWorksheet(t.about.sheet);
  about.addRows([
    [t.about.title, ''],
    [t.about.generated, new Date(report.generatedAt)],
    [t.about.type, report.filter.type ?? t.about.all],
    [t.about.since, report.filter.since ? new Date(report.filter.since) : t.about.beginning],
    t.about.toDecision,
    t.about.toFinal,
    t.about.perParty,
  ]);
  about.getColumn(1).width = 24;
  about.getColumn(2).width = 100;
  about.getColumn(1).font = { bold: true };
  for (const row of [2, 4]) if (about.getCell(row, 2).value instanceof Date) about.getCell(row, 2).numFmt = 'dd.mm.yyyy hh:mm';

  const charts = reportCharts(sections, t);
  const written = Buffer.from(await wb.xlsx.writeBuffer());
  return { bytes: addBarCharts(written, charts), sheets: [...sections.map((s) => s.title), t.about.sheet], charts: charts.length };
}

import ExcelJS from 'exceljs';
import PizZip from 'pizzip';
import { describe, expect, it } from 'vitest';
import { addBarCharts, columnLetters, rangeFormula } from '../../src/reports/chart.js';

// The chart writer on its own: references, and a sheet that already has relationships (a comment
// gives it a VML legacy drawing), where the new drawing must take a free rId and come first.

describe('report charts', () => {
  it('writes absolute references with the sheet quoted', () => {
    expect([1, 26, 27, 52, 703].map(columnLetters)).toEqual(['A', 'Z', 'AA', 'AZ', 'AAA']);
    expect(rangeFormula({ sheet: 'Times', col: 3, row: 3, toRow: 5 })).toBe("'Times'!$C$3:$C$5");
    expect(rangeFormula({ sheet: "Bank's days", col: 5, row: 1 })).toBe("'Bank''s days'!$E$1");
  });

  it('adds a chart to a sheet that already has relationships, before its legacy drawing', async () => {
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('First').addRow(['x']);
    const ws = wb.addWorksheet('Data & more');
    ws.addRows([['name', 'n'], ['a', 1], ['b', 2]]);
    ws.getCell('A1').note = 'a comment';
    const bytes = addBarCharts(Buffer.from(await wb.xlsx.writeBuffer()), [
      {
        sheet: 'Data & more',
        title: 'A & B',
        categories: { sheet: 'Data & more', col: 1, row: 2, toRow: 3 },
        categoryCache: ['a', 'b'],
        series: [{ name: 'n', nameCell: { sheet: 'Data & more', col: 2, row: 1 }, values: { sheet: 'Data & more', col: 2, row: 2, toRow: 3 }, cache: [1, 2] }],
        at: { col: 3, row: 1, cols: 6, rows: 12 },
      },
    ]);
    const zip = new PizZip(bytes);
    const sheet = zip.file('xl/worksheets/sheet2.xml')!.asText();
    const rels = zip.file('xl/worksheets/_rels/sheet2.xml.rels')!.asText();
    const rid = /<drawing r:id="(rId\d+)"\/>/.exec(sheet)![1]!;
    expect(sheet.indexOf('<drawing ')).toBeLessThan(sheet.indexOf('<legacyDrawing '));
    expect([...rels.matchAll(/Id="(rId\d+)"/g)].map((m) => m[1]).filter((id) => id === rid)).toHaveLength(1);
    expect(rels).toMatch(new RegExp(`Id="${rid}"[^>]*Target="../drawings/drawing1.xml"`));
    const chart = zip.file('xl/charts/chart1.xml')!.asText();
    expect(chart).toContain("<c:f>'Data &amp; more'!$A$2:$A$3</c:f>");
    expect(chart).toContain('<a:t>A &amp; B</a:t>');
    // exceljs reads it back with the cells intact.
    const back = new ExcelJS.Workbook();
    await back.xlsx.load(bytes as unknown as ArrayBuffer);
    expect(back.getWorksheet('Data & more')!.getCell('B3').value).toBe(2);
  });
});

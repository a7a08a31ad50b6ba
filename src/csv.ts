// CSV as Excel in a Russian locale opens it with a double click: a UTF-8 BOM (without it Excel
// reads the bytes as windows-1251), ';' between cells (',' is the decimal separator there), CRLF
// line ends. Shared by the record export and the reports so that every CSV Dossier writes looks
// the same to the person opening it.

export const CSV_SEPARATOR = ';';

// CSV injection (OWASP, "CSV Injection"): a cell that starts with =, +, -, @, a tab or a CR is read
// by Excel and LibreOffice as a formula — =HYPERLINK(…) that leaks data, =cmd|' /C calc'!A0 (DDE).
// Such a cell gets a leading ' (shown as text, never evaluated), and is quoted. Leading white space
// does not hide a formula from every program, so it is looked through. One exception, chosen so
// that amounts stay numbers the sheet can sum: a plain negative number ("-1234,5", "-7", as
// csvNumber writes them) — digits with at most one decimal separator cannot call anything.
const FORMULA_START = /^[\s]*[=+\-@\t\r]/;
const PLAIN_NEGATIVE_NUMBER = /^-\d+(?:[.,]\d+)?$/;

/** A cell a spreadsheet will not run: see above. */
export function neutraliseCell(s: string): string {
  return FORMULA_START.test(s) && !PLAIN_NEGATIVE_NUMBER.test(s) ? `'${s}` : s;
}

/** The reverse, for reading back a CSV Dossier wrote: "'=1+2" → "=1+2"; anything else unchanged. */
export function restoreCell(s: string): string {
  return s.startsWith("'") && FORMULA_START.test(s.slice(1)) && !PLAIN_NEGATIVE_NUMBER.test(s.slice(1)) ? s.slice(1) : s;
}

/** One cell, neutralised, then quoted when it holds the separator, a quote, a line break, a tab or a leading '. */
export function csvQuote(raw: string): string {
  const s = neutraliseCell(raw);
  return /[;"\n\r\t]/.test(s) || s !== raw ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A number as Russian Excel reads it: decimal comma, no grouping ("1234,5"). */
export function csvNumber(n: number): string {
  return String(n).replace('.', ',');
}

/** The whole file's text: BOM, header and rows joined with ';' and CRLF. */
export function excelCsv(rows: string[][]): string {
  return '\uFEFF' + rows.map((r) => r.map(csvQuote).join(CSV_SEPARATOR)).join('\r\n') + '\r\n';
}

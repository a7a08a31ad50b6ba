// CSV as Excel in a Russian locale opens it with a double click: a UTF-8 BOM (without it Excel
// reads the bytes as windows-1251), ';' between cells (',' is the decimal separator there), CRLF
// line ends. Shared by the record export and the reports so that every CSV Dossier writes looks
// the same to the person opening it.

export const CSV_SEPARATOR = ';';

/** One cell, quoted only when it holds the separator, a quote or a line break. */
export function csvQuote(s: string): string {
  return /[;"\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A number as Russian Excel reads it: decimal comma, no grouping ("1234,5"). */
export function csvNumber(n: number): string {
  return String(n).replace('.', ',');
}

/** The whole file's text: BOM, header and rows joined with ';' and CRLF. */
export function excelCsv(rows: string[][]): string {
  return '\uFEFF' + rows.map((r) => r.map(csvQuote).join(CSV_SEPARATOR)).join('\r\n') + '\r\n';
}

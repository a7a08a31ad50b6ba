// Human output is a plain aligned table; --json output is the data itself, one JSON document.

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal (progress bars and colours only then). */
  isTty: boolean;
}

export function processIo(): Io {
  // A reader that goes away (`dossier record list | head`) must not crash the command half-way:
  // the rest of the output is dropped and the command finishes (and closes the database) normally.
  const closed = { out: false, err: false };
  process.stdout.on('error', () => (closed.out = true));
  process.stderr.on('error', () => (closed.err = true));
  const line = (t: string) => (t.endsWith('\n') ? t : t + '\n');
  return {
    out: (t) => void (closed.out || process.stdout.write(line(t))),
    err: (t) => void (closed.err || process.stderr.write(line(t))),
    isTty: Boolean(process.stdout.isTTY),
  };
}

/** The width tables are fitted to: the terminal's, else 80 columns (pipes, files, tests). */
export function tableWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? Math.max(60, process.stdout.columns) : 80;
}

/** `text` cut to `n` characters, the cut shown by "…". */
export function fit(text: string, n: number): string {
  const chars = [...text];
  return chars.length <= n ? text : chars.slice(0, Math.max(1, n - 1)).join('') + '…';
}

/** Splits text into lines of at most `n` characters, at spaces where it can. */
function wrap(text: string, n: number): string[] {
  const out: string[] = [];
  let rest = [...text];
  while (rest.length > n) {
    const head = rest.slice(0, n + 1);
    let cut = head.lastIndexOf(' ');
    if (cut < n / 3) cut = n;
    out.push(rest.slice(0, cut).join('').trimEnd());
    rest = rest.slice(cut);
    while (rest[0] === ' ') rest.shift();
  }
  if (rest.length || !out.length) out.push(rest.join(''));
  return out;
}

export interface TableFit {
  /** Columns to fit in (default: the terminal's, else 80). */
  width?: number;
  /** Columns (by index, not the last) that may be cut ("…") when the others alone leave the last no room. */
  shrink?: number[];
}

/**
 * A plain aligned table made to fit `width` columns (80 by default): the last column wraps under
 * itself (nothing is lost); columns listed in `shrink` are cut ("…"), widest first, when the others
 * alone are too wide. A table whose other columns cannot shrink may still be wider.
 */
export function formatTable(header: string[], rows: (string | number | null | undefined)[][], fitTo: number | TableFit = {}): string {
  const { width = tableWidth(), shrink = [] } = typeof fitTo === 'number' ? { width: fitTo, shrink: header.map((_, i) => i).slice(0, -1) } : fitTo;
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c).replace(/\s*\n\s*/g, ' ⏎ '))))];
  const len = (c: string | undefined) => [...(c ?? '')].length;
  const widths = header.map((_, i) => Math.max(...cells.map((r) => len(r[i]))));
  const last = header.length - 1;
  const lastMin = Math.min(widths[last]!, 24);
  const before = () => widths.slice(0, last).reduce((n, w) => n + w + 2, 0);
  // Narrow the widest shrinkable column, one character at a time, until the last one has room.
  while (before() + lastMin > width) {
    let i = -1;
    for (const j of shrink) if (j < last && widths[j]! > Math.max(6, len(header[j])) && (i < 0 || widths[j]! > widths[i]!)) i = j;
    if (i < 0) break;
    widths[i]!--;
  }
  widths[last] = Math.max(lastMin, Math.min(widths[last]!, width - before()));
  const indent = ' '.repeat(before());
  const line = (r: string[]) => {
    const head = r.slice(0, last).map((c, i) => fit(c, widths[i]!) + ' '.repeat(Math.max(0, widths[i]! - len(fit(c, widths[i]!))))).join('  ');
    const tail = wrap(r[last] ?? '', widths[last]!);
    return [(last ? head + '  ' : '') + tail[0], ...tail.slice(1).map((t) => indent + t)].map((l) => l.trimEnd()).join('\n');
  };
  return [line(cells[0]!), line(widths.map((w) => '─'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

/** "2026-11-21 14:05" in the machine's time zone: what staff read; --json keeps full ISO times. */
export function formatTime(d: Date | string): string {
  const t = typeof d === 'string' ? new Date(d) : d;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

export function toJson(data: unknown): string {
  return JSON.stringify(data, null, 2);
}

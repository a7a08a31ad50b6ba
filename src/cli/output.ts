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

export function formatTable(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c).replace(/\s*\n\s*/g, ' ⏎ '))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join('  ').trimEnd();
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

import { describe, expect, it } from 'vitest';
import { fit, formatTable } from '../../src/cli/output.js';

// Tables staff read in an 80-column terminal: the last column wraps under itself, the others are
// cut with "…" only when they alone would not leave it room.

const width = (t: string) => Math.max(...t.split('\n').map((l) => [...l].length));

describe('formatTable', () => {
  it('leaves a table that fits alone', () => {
    expect(formatTable(['ref', 'status'], [['DL-2026-00001', 'new']], 80)).toBe('ref            status\n─────────────  ──────\nDL-2026-00001  new');
  });

  it('wraps the last column at spaces, under itself', () => {
    const t = formatTable(['when', 'what'], [['04:20', 'field borrower_middle_name set: — → Викторович (from deal.json), and a good deal more text after it']], 40);
    expect(width(t)).toBeLessThanOrEqual(40);
    expect(t.split('\n').slice(2)).toEqual(['04:20  field borrower_middle_name set: —', '       → Викторович (from deal.json),', '       and a good deal more text after', '       it']);
  });

  it('cuts the widest other column when the others alone are too wide', () => {
    const t = formatTable(['who', 'what'], [['import:/a/very/long/path/to/some/fixtures/records/deal.json', 'created (new)']], 40);
    expect(width(t)).toBeLessThanOrEqual(40);
    expect(t.split('\n')[2]).toBe('import:/a/very/long/path…  created (new)');
  });

  it('cuts text to a width with an ellipsis', () => {
    expect(fit('ПАО «Волга-Кредит Банк»', 10)).toBe('ПАО «Волг…');
    expect(fit('short', 10)).toBe('short');
  });
});

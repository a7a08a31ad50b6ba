import type { Report } from './gather.js';

// The report as tables: one section a table, the same columns whichever way it is written out
// (the terminal, an XLSX sheet, a CSV file), so the three never disagree about what a column is.

/** How a column's values are shown: text, a whole count, days or minutes (one decimal in print). */
export type ColumnKind = 'text' | 'count' | 'days' | 'minutes' | 'ratio';
export type Cell = string | number | null;

/** `short`: the header on the terminal, where width is scarce (sheets and CSV get the full one). */
export interface Column { header: string; kind: ColumnKind; short?: string }

export interface Section {
  /** File name (CSV) and key. */
  id: 'statuses' | 'times' | 'decisions' | 'outbox' | 'intake';
  /** Sheet name (XLSX) and heading (terminal). */
  title: string;
  columns: Column[];
  rows: Cell[][];
  /** Rows of each record type, for one chart a type: [type, first row index, last row index]. */
  groups: { type: string; from: number; to: number }[];
}

const text = (header: string): Column => ({ header, kind: 'text' });
const count = (header: string): Column => ({ header, kind: 'count' });
const days = (header: string, short: string): Column => ({ header, kind: 'days', short });

/** What the overall row of the timing section says in the party column. */
export const ALL_PARTIES = '(all)';

function groupsOf(rows: { type: string }[]): Section['groups'] {
  const out: Section['groups'] = [];
  rows.forEach((r, i) => {
    const last = out[out.length - 1];
    if (last && last.type === r.type) last.to = i;
    else out.push({ type: r.type, from: i, to: i });
  });
  return out;
}

export function reportSections(r: Report): Section[] {
  const timingRows = r.timings;
  return [
    {
      id: 'statuses',
      title: 'Statuses',
      columns: [text('type'), text('status'), text('label'), text('final'), count('records')],
      rows: r.statuses.map((s) => [s.type, s.status, s.label.ru, s.final ? 'yes' : '', s.count]),
      groups: groupsOf(r.statuses),
    },
    {
      id: 'times',
      title: 'Times',
      columns: [
        text('type'),
        text('party'),
        text('name'),
        count('decisions'),
        days('median days to decision', 'decision med'),
        days('p90 days to decision', 'decision p90'),
        count('final'),
        days('median days to final', 'final med'),
        days('p90 days to final', 'final p90'),
      ],
      rows: timingRows.map((t) => [t.type, t.party ?? ALL_PARTIES, t.partyName ?? '', t.decision.count, t.decision.medianDays, t.decision.p90Days, t.final.count, t.final.medianDays, t.final.p90Days]),
      groups: groupsOf(timingRows),
    },
    {
      id: 'decisions',
      title: 'Decisions',
      columns: [text('type'), text('party'), text('name'), count('approved'), count('declined'), count('more_info'), count('total')],
      rows: r.decisions.map((d) => [d.type, d.party, d.partyName, d.approved, d.declined, d.more_info, d.total]),
      groups: groupsOf(r.decisions),
    },
    {
      id: 'outbox',
      title: 'Outbox',
      columns: [text('measure'), { header: 'value', kind: 'ratio' }],
      rows: [
        ['messages', r.outbox.total],
        ...r.outbox.byStatus.map((s): Cell[] => [s.status, s.count]),
        ['average attempts (tried)', r.outbox.avgAttempts],
        ['sent with a time', r.outbox.sendTime.count],
        ['median minutes to send', r.outbox.sendTime.medianMinutes],
        ['p90 minutes to send', r.outbox.sendTime.p90Minutes],
        ['average minutes to send', r.outbox.sendTime.avgMinutes],
      ],
      groups: [],
    },
    {
      id: 'intake',
      title: 'Intake',
      columns: [text('outcome'), count('messages')],
      rows: [...r.intake.byOutcome.map((o): Cell[] => [o.outcome, o.count]), ['total', r.intake.total]],
      groups: [],
    },
  ];
}

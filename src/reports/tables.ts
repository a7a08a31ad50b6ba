import type { Report } from './gather.js';
import { reportTexts } from './texts.js';

// The report as tables: one section a table, the same columns whichever way it is written out
// (the terminal, an XLSX sheet, a CSV file), so the three never disagree about what a column is.

/** How a column's values are shown: text, a whole count, days or minutes (one decimal in print). */
export type ColumnKind = 'text' | 'count' | 'days' | 'minutes' | 'ratio';
export type Cell = string | number | null;

/** `short`: the header on the terminal, where width is scarce (sheets and CSV get the full one). */
export interface Column { header: string; kind: ColumnKind; short?: string }

export interface Section {
  /** File name (CSV) and key. */
  id: 'statuses' | 'times' | 'decisions' | 'outbox' | 'intake' | 'promises' | 'evidence';
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

/** What the overall row of the timing section says in the party column (in each language). */
export const ALL_PARTIES = ['(all)', '(все)'];

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
  const t = reportTexts(r.language);
  const c = t.col;
  const timingRows = r.timings;
  return [
    {
      id: 'statuses',
      title: t.sections.statuses,
      columns: [text(c.type), text(c.status), text(c.label), text(c.final), count(c.records)],
      rows: r.statuses.map((s) => [s.type, s.status, s.label[r.language] ?? s.label.ru, s.final ? t.yes : '', s.count]),
      groups: groupsOf(r.statuses),
    },
    {
      id: 'times',
      title: t.sections.times,
      columns: [
        text(c.type),
        text(c.party),
        text(c.name),
        count(c.decisions),
        days(c.medianDecision, t.short.medianDecision),
        days(c.p90Decision, t.short.p90Decision),
        count(c.finals),
        days(c.medianFinal, t.short.medianFinal),
        days(c.p90Final, t.short.p90Final),
      ],
      rows: timingRows.map((x) => [x.type, x.party ?? t.allParties, x.partyName ?? '', x.decision.count, x.decision.medianDays, x.decision.p90Days, x.final.count, x.final.medianDays, x.final.p90Days]),
      groups: groupsOf(timingRows),
    },
    {
      id: 'decisions',
      title: t.sections.decisions,
      columns: [text(c.type), text(c.party), text(c.name), count(c.approved), count(c.declined), count(c.moreInfo), count(c.total)],
      rows: r.decisions.map((d) => [d.type, d.party, d.partyName, d.approved, d.declined, d.more_info, d.total]),
      groups: groupsOf(r.decisions),
    },
    {
      id: 'outbox',
      title: t.sections.outbox,
      columns: [text(c.measure), { header: c.value, kind: 'ratio' }],
      rows: [
        [t.outbox.messages, r.outbox.total],
        ...r.outbox.byStatus.map((s): Cell[] => [s.status, s.count]),
        [t.outbox.avgAttempts, r.outbox.avgAttempts],
        [t.outbox.sentWithTime, r.outbox.sendTime.count],
        [t.outbox.median, r.outbox.sendTime.medianMinutes],
        [t.outbox.p90, r.outbox.sendTime.p90Minutes],
        [t.outbox.avg, r.outbox.sendTime.avgMinutes],
      ],
      groups: [],
    },
    {
      id: 'intake',
      title: t.sections.intake,
      columns: [text(c.outcome), count(c.messages)],
      rows: [...r.intake.byOutcome.map((o): Cell[] => [o.outcome, o.count]), [c.total, r.intake.total]],
      groups: [],
    },
    {
      // Issue 17: each counterparty's time to answer against its promise (deadlines.expect).
      id: 'promises',
      title: t.sections.promises,
      columns: [text(c.type), text(c.party), text(c.name), text(c.step), text(c.promised), count(c.answered), count(c.onTime), days(c.medianWorkingDays, t.short.medianWorkingDays), count(c.waiting), count(c.overdue)],
      rows: r.promises.map((p) => [p.type, p.party, p.partyName, p.step, p.promised, p.answered, p.onTime, p.medianWorkingDays, p.waiting, p.overdue]),
      groups: groupsOf(r.promises),
    },
    {
      // Issue 17: the same file or a near-identical photo on two records.
      id: 'evidence',
      title: t.sections.evidence,
      columns: [text(c.method), { header: c.similarity, kind: 'ratio' }, text(c.recordA), text(c.fileA), text(c.recordB), text(c.fileB)],
      rows: r.evidence.map((p) => [p.method, p.similarity, p.a.ref, p.a.file, p.b.ref, p.b.file]),
      groups: [],
    },
  ];
}

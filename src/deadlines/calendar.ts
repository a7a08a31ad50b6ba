import type { Config } from '../config/schema.js';

// The working-day calendar deadlines are counted on: the configured weekends and holidays, in the
// office's time zone (a package sent on Friday evening in Moscow is not sent on a Saturday in UTC).

export interface WorkCalendar { timeZone: string; weekends: Set<number>; holidays: Set<string>; workingWeekends: Set<string> }

const DAY = 86_400_000;

export function calendarOf(d: Pick<Config['deadlines'], 'timeZone' | 'weekends' | 'holidays' | 'workingWeekends'>): WorkCalendar {
  return { timeZone: d.timeZone, weekends: new Set(d.weekends), holidays: new Set(d.holidays), workingWeekends: new Set(d.workingWeekends) };
}

const fmt = new Map<string, Intl.DateTimeFormat>();

/** The local day (YYYY-MM-DD) and ISO weekday (1 Monday … 7 Sunday) of an instant in the zone. */
export function localDay(t: Date, timeZone: string): { day: string; weekday: number } {
  let f = fmt.get(timeZone);
  if (!f) fmt.set(timeZone, (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short' })));
  const parts = Object.fromEntries(f.formatToParts(t).map((p) => [p.type, p.value]));
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday!) + 1;
  return { day: `${parts.year}-${parts.month}-${parts.day}`, weekday };
}

export function isWorkingDay(t: Date, cal: WorkCalendar): boolean {
  const { day, weekday } = localDay(t, cal.timeZone);
  if (cal.workingWeekends.has(day)) return true;
  return !cal.weekends.has(weekday) && !cal.holidays.has(day);
}

/**
 * The instant `days` days after `start`: calendar days, or working days (each day passed counts only
 * if it is a working day), at the same time of day. 5 working days from Friday 15:00 is the next
 * Friday 15:00; from Saturday, also the next Friday.
 */
export function addDays(start: Date, days: number, count: 'working' | 'calendar', cal: WorkCalendar): Date {
  if (count === 'calendar') return new Date(start.getTime() + days * DAY);
  let t = start.getTime();
  for (let n = 0; n < days; ) {
    t += DAY;
    if (isWorkingDay(new Date(t), cal)) n++;
  }
  return new Date(t);
}

/** Working days from a to b (whole days passed; negative when b is earlier). */
export function workingDaysBetween(a: Date, b: Date, cal: WorkCalendar): number {
  const sign = b >= a ? 1 : -1;
  const [from, to] = sign > 0 ? [a, b] : [b, a];
  let n = 0;
  for (let t = from.getTime() + DAY; t <= to.getTime(); t += DAY) if (isWorkingDay(new Date(t), cal)) n++;
  return sign * n;
}

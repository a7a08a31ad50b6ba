import { describe, expect, it } from 'vitest';
import { addDays, calendarOf, isWorkingDay, workingDaysBetween } from '../../src/deadlines/calendar.js';

const cal = calendarOf({ timeZone: 'Europe/Moscow', weekends: [6, 7], holidays: ['2026-12-31', '2027-01-01'], workingWeekends: ['2026-12-26'] });

describe('the working-day calendar', () => {
  it('skips weekends and holidays, in the office time zone', () => {
    // Friday 4 Dec 2026, 15:00 Moscow; 5 working days later is Friday 11 Dec, same time.
    expect(addDays(new Date('2026-12-04T12:00:00Z'), 5, 'working', cal).toISOString()).toBe('2026-12-11T12:00:00.000Z');
    // Saturday 23:30 Moscow is still Saturday there although UTC says 20:30 the same day; Sunday 01:00 Moscow is Saturday 22:00 UTC.
    expect(isWorkingDay(new Date('2026-12-05T22:00:00Z'), cal)).toBe(false);
    expect(isWorkingDay(new Date('2026-12-06T21:30:00Z'), cal)).toBe(true); // Monday 00:30 in Moscow
    // 30 Dec (Wed) + 2 working days: 31 Dec and 1 Jan are holidays, 2–3 Jan a weekend → Tuesday 5 Jan.
    expect(addDays(new Date('2026-12-30T09:00:00Z'), 2, 'working', cal).toISOString()).toBe('2027-01-05T09:00:00.000Z');
    // A worked Saturday counts.
    expect(isWorkingDay(new Date('2026-12-26T09:00:00Z'), cal)).toBe(true);
    // Calendar days are plain days.
    expect(addDays(new Date('2026-12-30T09:00:00Z'), 2, 'calendar', cal).toISOString()).toBe('2027-01-01T09:00:00.000Z');
    expect(workingDaysBetween(new Date('2026-12-04T12:00:00Z'), new Date('2026-12-11T12:00:00Z'), cal)).toBe(5);
    expect(workingDaysBetween(new Date('2026-12-11T12:00:00Z'), new Date('2026-12-04T12:00:00Z'), cal)).toBe(-5);
  });
});

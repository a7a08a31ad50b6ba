// The calendar date a person meant by a timestamp: the day in the offset the sender wrote it in
// ("Sun, 6 Dec 2026 01:10 +0300" is 6 December, although it is still the 5th in UTC), or, when the
// message names no offset, the day in the business time zone.

/** YYYY-MM-DD of `at` in `offsetMinutes` east of UTC, or in `timeZone` when the offset is unknown. */
export function calendarDate(at: Date, offsetMinutes: number | null, timeZone: string): string {
  if (offsetMinutes !== null) return new Date(at.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 10);
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}
